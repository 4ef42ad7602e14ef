"""The browser session: an HttpOnly, SameSite=Lax cookie holding a gateway login token,
validated exactly as a bearer token is (auth.token_owner: user-manager, through the same
token cache)."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request, Response

from api_gateway.auth import MAX_TOKEN_LENGTH, token_owner
from api_gateway.ratelimit import RateLimiter
from api_gateway.settings import GatewaySettings
from delinkcious.errors import PermissionDenied, Unauthenticated

SESSION_COOKIE = "dlk_session"
# The `__Host-` prefix makes the browser refuse the cookie unless it is Secure, for this
# host only and for path `/`: no subdomain or plain-http page can plant or shadow it.
SECURE_SESSION_COOKIE = "__Host-dlk_session"


def is_secure(settings: GatewaySettings) -> bool:
    return settings.public_url.startswith("https://")


def cookie_name(settings: GatewaySettings) -> str:
    return SECURE_SESSION_COOKIE if is_secure(settings) else SESSION_COOKIE


def signing_key(settings: GatewaySettings, purpose: bytes) -> bytes:
    """A key of its own per purpose, from SESSION_SECRET when set, else from the
    gateway's caller secret (always set, never public): one secret, several keys."""
    secret = settings.session_secret or settings.caller_token
    assert secret is not None  # GatewaySettings requires CALLER_TOKEN
    return hmac.new(secret.get_secret_value().encode(), purpose, hashlib.sha256).digest()


def settings_of(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def session_token(request: Request) -> str | None:
    token = request.cookies.get(cookie_name(settings_of(request)))
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return token


async def session_user(request: Request) -> str | None:
    """The signed-in user of this browser, or None (no cookie, or one whose token
    expired or was revoked). Counts against the user's rate limit like an API call."""
    token = session_token(request)
    if token is None:
        return None
    try:
        owner = await token_owner(request, token, allow_feeds=False)
    except (Unauthenticated, PermissionDenied):
        return None
    limiter: RateLimiter = request.app.state.limiter
    await limiter.check(owner.username)
    return owner.username


def set_session(response: Response, settings: GatewaySettings, token: str, max_age: int) -> None:
    response.set_cookie(
        cookie_name(settings),
        token,
        max_age=max_age,
        path="/",
        secure=is_secure(settings),
        httponly=True,
        samesite="lax",
    )


def clear_session(response: Response, settings: GatewaySettings) -> None:
    response.delete_cookie(
        cookie_name(settings), path="/", secure=is_secure(settings), httponly=True, samesite="lax"
    )
