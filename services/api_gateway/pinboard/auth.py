"""Who is calling the Pinboard API: `auth_token=<username>:<token>` (query or form), or
HTTP Basic with the username and a token as the password, or a Bearer header as on
/v1. The token is a personal API token or a login token of that user.

HTTP Basic sends the token with every request; it is accepted over plain http only
where PUBLIC_URL is http (a local run). Behind TLS termination the proxy's
X-Forwarded-Proto says whether the client used https.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from api_gateway.auth import MAX_TOKEN_LENGTH, TokenCache
from api_gateway.pinboard.params import Params, read_params
from api_gateway.ratelimit import RateLimiter
from api_gateway.settings import GatewaySettings
from delinkcious.clients.link import LinkClient
from delinkcious.clients.user import UserClient
from delinkcious.errors import InvalidArgument, Unauthenticated
from delinkcious.models import TokenOwner

REALM = 'Basic realm="Delinkcious Pinboard API", charset="UTF-8"'


@dataclass
class Call:
    """One authenticated Pinboard call: who, with which token, and its arguments."""

    username: str
    token: str
    params: Params
    as_json: bool
    links: LinkClient


def basic_allowed(request: Request, settings: GatewaySettings) -> bool:
    if urlsplit(settings.public_url).scheme == "http":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return (forwarded or request.url.scheme) == "https"


def _refuse(message: str, settings: GatewaySettings, request: Request) -> StarletteHTTPException:
    # The challenge makes clients that send Basic credentials only when asked send them.
    headers = {"WWW-Authenticate": REALM} if basic_allowed(request, settings) else None
    return StarletteHTTPException(401, message, headers=headers)


def _credentials(request: Request, params: Params, settings: GatewaySettings) -> tuple[str | None, str]:
    """(the username the client claims, if it names one; the token)."""
    auth_token = params.get("auth_token")
    if auth_token is not None:
        user, colon, token = auth_token.strip().partition(":")
        return (user, token) if colon else (None, user)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return None, value.strip()
    if scheme.lower() == "basic" and value.strip():
        if not basic_allowed(request, settings):
            raise _refuse(
                "HTTP Basic is accepted only over https here: use https or auth_token", settings, request
            )
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _refuse("malformed HTTP Basic credentials", settings, request) from None
        user, _, token = decoded.partition(":")
        return user, token
    raise _refuse("missing credentials: send auth_token=<username>:<token> or HTTP Basic", settings, request)


async def token_owner(request: Request, token: str) -> TokenOwner:
    """Whose token this is, remembered briefly like the /v1 routes' tokens."""
    cache: TokenCache = request.app.state.token_cache
    owner = cache.get(token)
    if owner is None:
        users: UserClient = request.app.state.users
        try:
            owner = await users.validate_token(token)
        except InvalidArgument:  # a token user-manager cannot even read is just unknown
            raise Unauthenticated("unknown access token") from None
        cache.put(token, owner)
    return owner


async def pinboard_call(request: Request) -> Call:
    settings: GatewaySettings = request.app.state.settings
    params = await read_params(request)
    claimed, token = _credentials(request, params, settings)
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _refuse("unknown access token", settings, request)
    try:
        owner = await token_owner(request, token)
    except Unauthenticated as exc:
        raise _refuse(exc.message, settings, request) from None
    if claimed is not None and claimed.strip().lower() != owner.username:
        raise _refuse("the token does not belong to that user", settings, request)
    if getattr(owner, "scope", "login") == "feeds":
        raise _refuse("a feeds token works only for the feeds", settings, request)
    request.state.username = owner.username
    limiter: RateLimiter = request.app.state.limiter
    limiter.check(owner.username)
    as_json = (params.get("format") or "").strip().lower() == "json"
    return Call(owner.username, token, params, as_json, request.app.state.links)


PinboardCall = Annotated[Call, Depends(pinboard_call)]
