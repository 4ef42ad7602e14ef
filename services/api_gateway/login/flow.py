"""What every provider's login shares: starting one (state, PKCE, nonce, cookie,
redirect), checking its callback, and turning the provider's answer into an Identity."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api_gateway.login.context import LoginContext
from api_gateway.login.cookies import MAX_AGE_SECONDS, PendingLogin
from api_gateway.login.outbound import safe_error_code
from api_gateway.routes.account import LoginResponse
from api_gateway.web.pages import local_path
from api_gateway.web.session import set_session
from delinkcious.errors import Unauthenticated
from delinkcious.models import Identity

MAX_PARAM_LENGTH = 2048

# Described once for every route that starts a login.
REDIRECT_RESPONSES: dict[int | str, dict[str, Any]] = {
    302: {
        "description": "To the provider's sign-in page. Sets the login cookie that the callback needs, "
        "so the callback must come back to the same browser within 10 minutes.",
        "headers": {
            "Location": {"description": "The provider's authorization URL", "schema": {"type": "string"}},
            "Set-Cookie": {"description": "The signed login cookie (HttpOnly)", "schema": {"type": "string"}},
        },
    }
}


BROWSER_FINISH: dict[int | str, dict[str, Any]] = {
    303: {
        "description": "A browser's sign-in (started with `next`): to that page, signed in by the "
        "session cookie (HttpOnly, SameSite=Lax) instead of a JSON answer.",
        "headers": {
            "Location": {"description": "The `next` page", "schema": {"type": "string"}},
            "Set-Cookie": {"description": "The session cookie", "schema": {"type": "string"}},
        },
    }
}

# The `next` of a login route: where a browser goes once signed in.
NEXT_PAGE = Query(
    max_length=2048,
    description="For a sign-in from a browser: a path on this site to return to. The callback then "
    "sets the session cookie and redirects there (303) instead of answering JSON.",
)


async def context(request: Request) -> LoginContext:
    # Async though it awaits nothing: a plain function would run in the thread pool.
    login: LoginContext = request.app.state.login
    return login


def new_login(provider: str, *, nonce: bool, next_page: str | None = None) -> PendingLogin:
    """`next_page` set: a browser's sign-in, which the callback finishes with the session
    cookie and a redirect there (only ever a path on this site); unset: the JSON answer."""
    # 48 URL-safe bytes -> a 64-character verifier, inside RFC 7636's 43-128.
    return PendingLogin(
        provider=provider,
        state=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),
        nonce=secrets.token_urlsafe(32) if nonce else None,
        next=None if next_page is None else local_path(next_page),
    )


def finish(login: LoginContext, pending: PendingLogin, result: LoginResponse) -> Response | None:
    """The callback's answer to a browser's sign-in: to the page it started from, signed
    in. None for an API client's login, which gets the JSON."""
    if pending.next is None:
        return None
    response = RedirectResponse(local_path(pending.next), status_code=303)
    set_session(response, login.settings, result.access_token, result.expires_in)
    login.cookies.clear(response, pending.provider)
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(login: LoginContext, url: str, pending: PendingLogin) -> RedirectResponse:
    response = RedirectResponse(url, status_code=302)
    response.headers["Cache-Control"] = "no-store"
    login.cookies.set(response, pending)
    return response


async def check_callback(
    request: Request,
    login: LoginContext,
    provider: str,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
) -> tuple[PendingLogin, str]:
    """The pending login this callback completes, and its code. The state must be the
    one bound to this browser, and is consumed here: a replay gets 401."""
    pending = login.cookies.read(request, provider)
    if not state or len(state) > MAX_PARAM_LENGTH:
        raise Unauthenticated("the callback has no usable state parameter")
    if not hmac.compare_digest(state.encode(), pending.state.encode()):
        raise Unauthenticated("the state does not match the login started in this browser")
    if not await login.used_states.first_use(pending.state, MAX_AGE_SECONDS):
        raise Unauthenticated(f"this login was already used: start again at /login/{provider}")
    if error is not None:
        raise Unauthenticated(f"the provider did not sign you in: {safe_error_code(error)}")
    if not code or len(code) > MAX_PARAM_LENGTH:
        raise Unauthenticated("the callback has no authorization code")
    return pending, code


def identity(
    provider: str, subject: str, username: object, name: object, email: object, *, label: str, claim: str
) -> Identity:
    """An Identity from what a provider said. A missing or unusable username is the
    provider's identity being unfit for this service: 401 with why."""
    if not 0 < len(subject) <= 255:
        raise Unauthenticated(f"{label} gave an unusable subject identifier")
    if not isinstance(username, str) or not username.strip():
        raise Unauthenticated(f"{label} gave no username (`{claim}`); it is needed to sign in")
    profile_name = (name.strip()[:255] or None) if isinstance(name, str) else None
    profile_email = email.strip() if isinstance(email, str) and 0 < len(email.strip()) <= 320 else None
    try:
        return Identity(
            provider=provider, subject=subject, username=username, name=profile_name, email=profile_email
        )
    except ValidationError:
        shown = username[:64]
        raise Unauthenticated(
            f"{label} gave the username {shown!r}, which cannot be used here: a username is "
            "1-39 characters of a-z, 0-9 and '-', not starting with '-'"
        ) from None
