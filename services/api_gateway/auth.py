"""Who is calling: the access token from `Authorization: Bearer` or `Access-Token`,
validated by user-manager and remembered briefly so most requests cost no call."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from delinkcious.clients.user import UserClient
from delinkcious.errors import Unauthenticated
from delinkcious.models import TokenOwner

MAX_TOKEN_LENGTH = 512

# Declared for OpenAPI (the "Authorize" button in /docs); errors are ours, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="An access token from a login route")
_access_token = APIKeyHeader(name="Access-Token", auto_error=False, description="The same token, book style")


class TokenCache:
    """Validated tokens for a few seconds. A logout evicts its token here at once; other
    gateway instances forget it when their entry expires (TOKEN_CACHE_SECONDS)."""

    def __init__(self, ttl_seconds: float, max_entries: int = 100_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[float, TokenOwner]] = {}

    def get(self, token: str) -> TokenOwner | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(token, None)
            return None
        return entry[1]

    def put(self, token: str, owner: TokenOwner) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()  # crude but bounded; a refill costs one call per user
        expires = min(time.monotonic() + self._ttl, time.monotonic() + _seconds_left(owner))
        self._entries[token] = (expires, owner)

    def evict(self, token: str) -> None:
        self._entries.pop(token, None)


def _seconds_left(owner: TokenOwner) -> float:
    from delinkcious.timeutil import utcnow

    if owner.expires_at is None:  # a personal API token: only the cache's TTL applies
        return float("inf")
    return max((owner.expires_at - utcnow()).total_seconds(), 0.0)


def presented_token(request: Request) -> str:
    header = request.headers.get("authorization")
    token = None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("Authorization header must be 'Bearer <token>'")
        token = value.strip()
    else:
        token = (request.headers.get("access-token") or "").strip() or None
    if not token:
        raise Unauthenticated("missing access token: send 'Authorization: Bearer <token>'")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("unknown access token")
    return token


async def current_user(
    request: Request,
    _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    _header_doc: Annotated[str | None, Depends(_access_token)] = None,
) -> str:
    token = presented_token(request)
    cache: TokenCache = request.app.state.token_cache
    owner = cache.get(token)
    if owner is None:
        users: UserClient = request.app.state.users
        owner = await users.validate_token(token)
        cache.put(token, owner)
    request.state.username = owner.username
    return owner.username


CurrentUser = Annotated[str, Depends(current_user)]
