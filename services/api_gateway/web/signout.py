"""Signing out of a browser session: POST /logout with the session cookie instead of
a bearer token. A page's form, so it is checked for CSRF like every other."""

from __future__ import annotations

import contextlib

from fastapi import Request, Response

from api_gateway.auth import TokenCache
from api_gateway.web import csrf
from api_gateway.web.pages import see_other
from api_gateway.web.session import clear_session, session_token, settings_of
from delinkcious.clients.user import UserClient
from delinkcious.errors import Unauthenticated


def has_session_only(request: Request) -> bool:
    """No token in the headers, a session cookie: the browser's sign-out."""
    headers = request.headers
    return (
        "authorization" not in headers
        and "access-token" not in headers
        and session_token(request) is not None
    )


async def end_session(request: Request) -> Response:
    await csrf.check(request)
    token = session_token(request)
    if token is None:
        raise Unauthenticated("no session to end")
    users: UserClient = request.app.state.users
    with contextlib.suppress(Unauthenticated):  # already expired or revoked: the cookie goes anyway
        await users.revoke_token(token)
    cache: TokenCache = request.app.state.token_cache
    cache.evict(token)
    # A page's form wants a page to land on; a script gets the API's 204.
    browser = "text/html" in request.headers.get("accept", "")
    response: Response = see_other("/signin") if browser else Response(status_code=204)
    clear_session(response, settings_of(request))
    response.headers["Cache-Control"] = "no-store"
    return response
