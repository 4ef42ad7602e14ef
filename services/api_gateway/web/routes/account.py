"""Signing in from a browser (the development login's form; GitHub and OpenID Connect
start at their /login routes with a `next`), and the bookmarklet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from api_gateway.deps import Users
from api_gateway.routes.account import DevLogin, issue_login
from api_gateway.web import csrf
from api_gateway.web.forms import describe, form_of, text
from api_gateway.web.pages import WebRoute, local_path, render, see_other
from api_gateway.web.session import session_user, set_session, settings_of
from delinkcious.errors import AlreadyExists, NotFound
from delinkcious.models import Identity

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Next = Annotated[str, Query(max_length=2048)]


@router.get("/signin")
async def signin_page(request: Request, next: Next = "/") -> Response:
    target = local_path(next)
    if await session_user(request) is not None:
        return see_other(target)
    pre_session = csrf.start_pre_session(request)
    response = render(request, "signin.html", {"next": target})
    csrf.set_pre_session(request, response, pre_session)
    return response


@router.post("/signin/dev")
async def dev_signin(request: Request, users: Users) -> Response:
    settings = settings_of(request)
    if not settings.dev_login:
        raise NotFound("development sign-in is off on this server")
    form = await form_of(request)
    target = local_path(text(form, "next"))
    try:
        body = DevLogin(username=text(form, "username"))
        login = await issue_login(
            users, Identity(provider="dev", subject=body.username, username=body.username)
        )
    except (ValidationError, AlreadyExists) as exc:
        message = describe(exc) if isinstance(exc, ValidationError) else exc.message
        context = {"next": target, "form_error": message, "username": text(form, "username")}
        return render(
            request, "signin.html", context, status_code=400 if isinstance(exc, ValidationError) else 409
        )
    response = see_other(target)
    set_session(response, settings, login.access_token, login.expires_in)
    return response


@router.get("/bookmarklet")
async def bookmarklet_page(request: Request) -> Response:
    await session_user(request)  # shows the navigation when signed in; the page is public
    return render(request, "bookmarklet.html", {"bookmarklet": bookmarklet(settings_of(request).public_url)})


def bookmarklet(public_url: str) -> str:
    """Opens our add-link form with the viewed page's address, title and selected text.
    The origin is ours (PUBLIC_URL), embedded as a JavaScript string literal."""
    import json

    target = json.dumps(f"{public_url}/links/new?url=")
    return (
        "javascript:(function(){var e=encodeURIComponent,d=document,"
        f"u={target}+e(location.href)+'&title='+e(d.title)+'&description='+e(String(getSelection()));"
        "if(!window.open(u,'delinkcious','width=720,height=640'))location.href=u;})();"
    )
