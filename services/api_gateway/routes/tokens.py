"""/v1/tokens: personal API tokens, for scripts, feed readers and Pinboard clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api_gateway.auth import TokenCache
from api_gateway.deps import User, Users
from api_gateway.docs import AUTHED, errors
from api_gateway.forward import Forwarded
from delinkcious.models import ApiTokenList, CreatedApiToken, NewApiToken

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.post("", status_code=201, responses=errors(*AUTHED, 409), summary="Create a personal API token")
async def create_token(user: User, body: NewApiToken, users: Users) -> CreatedApiToken:
    """A token that never expires, until it is deleted. Scope `full` (the default) works
    wherever a login token does, the Pinboard API included; `feeds` only for the Atom
    feeds. The secret `token` is in this answer only: just its hash is kept. The name is
    1-100 characters as sent, then trimmed; a user has at most 100 tokens (409 `limit_exceeded`)."""
    return await users.create_api_token(user, body.name, body.scope)


@router.get(
    "", response_model=ApiTokenList, responses=errors(*AUTHED), summary="List your personal API tokens"
)
async def list_tokens(user: User, users: Users) -> Response:
    """Newest first, without their secrets. `last_used_at` (null until first used) is
    accurate to about a minute."""
    return Forwarded(await users.list_api_tokens_json(user))


@router.delete(
    "/{token_id}", status_code=204, responses=errors(*AUTHED, 404), summary="Delete a personal API token"
)
async def delete_token(
    request: Request,
    user: User,
    token_id: Annotated[str, Path(description="The token's `id`")],
    users: Users,
) -> Response:
    """The token is rejected with 401 from the next request on. 404 when you have no
    token of that id."""
    await users.delete_api_token(user, token_id)
    cache: TokenCache = request.app.state.token_cache
    cache.evict_id(token_id)
    return Response(status_code=204)
