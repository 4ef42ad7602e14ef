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

from api_gateway.auth import token_owner
from api_gateway.pinboard.params import Params, read_params
from api_gateway.ratelimit import RateLimiter
from api_gateway.settings import GatewaySettings
from delinkcious.clients.link import LinkClient
from delinkcious.errors import Unauthenticated

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


async def pinboard_call(request: Request) -> Call:
    settings: GatewaySettings = request.app.state.settings
    params = await read_params(request)
    claimed, token = _credentials(request, params, settings)
    username = claimed.strip().lower() if claimed is not None else None
    try:
        # A feeds-scope token is refused here (403), as on the REST routes.
        owner = await token_owner(request, token, allow_feeds=False, username=username)
    except Unauthenticated as exc:
        raise _refuse(exc.message, settings, request) from None
    limiter: RateLimiter = request.app.state.limiter
    await limiter.check(owner.username)
    as_json = (params.get("format") or "").strip().lower() == "json"
    return Call(owner.username, token, params, as_json, request.app.state.links)


PinboardCall = Annotated[Call, Depends(pinboard_call)]
