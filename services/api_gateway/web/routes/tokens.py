"""Personal API tokens: create one (its secret shown this once), list and delete them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from api_gateway.auth import TokenCache
from api_gateway.deps import Users
from api_gateway.web.deps import PageUser
from api_gateway.web.forms import describe, form_of, text
from api_gateway.web.pages import WebRoute, render, see_other
from delinkcious.errors import InvalidArgument, LimitExceeded
from delinkcious.models import NewApiToken

router = APIRouter(route_class=WebRoute, include_in_schema=False)


async def _tokens(
    request: Request, user: str, users: Users, status_code: int = 200, **extra: Any
) -> Response:
    listed = await users.list_api_tokens(user)
    return render(request, "tokens.html", {"tokens": listed.tokens, **extra}, status_code=status_code)


@router.get("/tokens")
async def tokens_page(request: Request, user: PageUser, users: Users, done: str = "") -> Response:
    return await _tokens(request, user, users, flash="Token deleted." if done == "deleted" else None)


@router.post("/tokens")
async def create_token(request: Request, user: PageUser, users: Users) -> Response:
    form = await form_of(request)
    try:
        wanted = NewApiToken(name=text(form, "name"), scope=text(form, "scope") or "full")
        created = await users.create_api_token(user, wanted.name, wanted.scope)
    except ValidationError as exc:
        return await _tokens(request, user, users, 400, form_error=describe(exc), typed=text(form, "name"))
    except (InvalidArgument, LimitExceeded) as exc:
        return await _tokens(
            request, user, users, exc.status, form_error=exc.message, typed=text(form, "name")
        )
    # Answered, not redirected: the secret exists in this one response only.
    return await _tokens(request, user, users, 201, created=created)


@router.post("/tokens/delete")
async def delete_token(request: Request, user: PageUser, users: Users) -> Response:
    token_id = text(await form_of(request), "id")
    await users.delete_api_token(user, token_id)
    cache: TokenCache = request.app.state.token_cache
    cache.evict_id(token_id)
    return see_other("/tokens?done=deleted")
