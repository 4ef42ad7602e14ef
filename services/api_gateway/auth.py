"""Who is calling: a login token or personal API token, from `Authorization: Bearer` or
`Access-Token` (or a feed's `token` parameter), validated by user-manager and remembered
briefly so most requests cost no call.

A `full` personal token works wherever a login token does; a `feeds` one only on the
feed routes, which ask for it with `allow_feeds=True` (FeedReader)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api_gateway.ratelimit import RateLimiter
from delinkcious.clients.user import UserClient
from delinkcious.errors import PermissionDenied, Unauthenticated
from delinkcious.models import ApiTokenScope, TokenOwner
from delinkcious.timeutil import utcnow

if TYPE_CHECKING:
    from api_gateway.token_refresh import TokenRefresher

MAX_TOKEN_LENGTH = 512

# Declared for OpenAPI (the "Authorize" button in /docs); errors are ours, not FastAPI's.
_bearer = HTTPBearer(
    auto_error=False, description="An access token from a login route, or a personal API token"
)
_access_token = APIKeyHeader(name="Access-Token", auto_error=False, description="The same token, book style")

# How long an evicted token (or token id) may not be cached again: longer than any
# validation can be in flight (BACKEND_TIMEOUT_SECONDS is at most 60), so an answer
# fetched just before a logout or deletion cannot put the token back.
_GONE_SECONDS = 65.0
# The share of TOKEN_CACHE_SECONDS by which an entry's lifetime may fall short of it.
TTL_SPREAD = 0.2
# The last share of an entry's lifetime in which a request that finds it starts its
# validation anew in the background (token_refresh.py): a token in steady use is
# never validated on a request's path, and each one still at most once a lifetime.
REFRESH_SHARE = 0.2
# How much earlier than that the window of each entry may open, at random: entries
# cached together (every user after a restart or an idle spell) would otherwise all
# come due within the same fifth of a lifetime, a burst of background validations
# that takes the cores from the requests around it. Drawn between 50% and 80% of the
# lifetime, they come due over a window 0.4 of the TTL wide, at the cost of a token
# in steady use being validated about once every 0.65 lifetimes instead of 0.8.
REFRESH_SPREAD = 0.3


@dataclass(slots=True)
class _Entry:
    expires: float
    refresh_at: float
    owner: TokenOwner
    refreshing: bool = False


class TokenCache:
    """Validated tokens for a few seconds (at most TOKEN_CACHE_SECONDS, each entry a
    random 0-20% less, validated again in the background when it is used in the last
    20-50% of its lifetime), and never past a login token's expiry. A logout (evict) or a
    token's deletion (evict_id) takes effect here at once; other gateway instances
    forget the token when their entry expires, or at once with Redis
    (revocation.SharedTokenCache)."""

    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        spread: Callable[[], float] = random.random,
        refresh_spread: Callable[[], float] = random.random,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._spread = spread
        self._refresh_spread = refresh_spread
        self._entries: dict[str, _Entry] = {}
        self._by_id: dict[str, set[str]] = {}  # personal token id -> its cached tokens
        self._gone_tokens: dict[str, float] = {}  # -> until when put() refuses it
        self._gone_ids: dict[str, float] = {}

    def get(self, token: str) -> TokenOwner | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._drop(token)
            return None
        return entry.owner

    def claim_refresh(self, token: str) -> bool:
        """True once for an entry in its refresh window (its last REFRESH_SHARE, opened
        up to REFRESH_SPREAD of its lifetime earlier): the caller
        validates the token again and puts (or drops) it. The entry serves until then,
        and never past its own expiry."""
        entry = self._entries.get(token)
        if entry is None or entry.refreshing or entry.refresh_at > self._clock():
            return False
        entry.refreshing = True
        return True

    def drop(self, token: str) -> None:
        """Forgets this token's entry (a refresh found it no longer valid); unlike
        evict, a later validation may cache it again."""
        self._drop(token)

    def put(self, token: str, owner: TokenOwner) -> None:
        if self._ttl <= 0:
            return
        now = self._clock()
        if self._gone_tokens.get(token, 0.0) > now:
            return
        if owner.token_id is not None and self._gone_ids.get(owner.token_id, 0.0) > now:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()  # crude but bounded; a refill costs one call per user
            self._by_id.clear()
        self._drop(token)
        # Entries cached together (every active user after a restart, or the users of
        # one client) would otherwise expire together forever after, each time in a
        # burst of validations that stalls the requests around it. A lifetime drawn
        # between (1 - TTL_SPREAD) and 1 times the TTL spreads them; none outlives it.
        lifetime = min(self._ttl * (1.0 - TTL_SPREAD * self._spread()), _seconds_left(owner))
        refresh_after = lifetime * (1.0 - REFRESH_SHARE - REFRESH_SPREAD * self._refresh_spread())
        self._entries[token] = _Entry(now + lifetime, now + refresh_after, owner)
        if owner.token_id is not None:
            self._by_id.setdefault(owner.token_id, set()).add(token)

    def evict(self, token: str) -> None:
        """Forgets this token (a logout)."""
        self._drop(token)
        self._gone_tokens[token] = self._clock() + _GONE_SECONDS
        self._forget_old_evictions()

    def evict_id(self, token_id: str) -> None:
        """Forgets every entry of this personal API token (it was deleted)."""
        for token in self._by_id.pop(token_id, set()):
            self._entries.pop(token, None)
        self._gone_ids[token_id] = self._clock() + _GONE_SECONDS
        self._forget_old_evictions()

    def _drop(self, token: str) -> None:
        entry = self._entries.pop(token, None)
        if entry is not None and entry.owner.token_id is not None:
            tokens = self._by_id.get(entry.owner.token_id)
            if tokens is not None:
                tokens.discard(token)
                if not tokens:
                    del self._by_id[entry.owner.token_id]

    def _forget_old_evictions(self) -> None:
        now = self._clock()
        for gone in (self._gone_tokens, self._gone_ids):
            for key in [k for k, until in gone.items() if until <= now]:
                del gone[key]


def _seconds_left(owner: TokenOwner) -> float:
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
    return token


async def token_owner(
    request: Request, token: str, *, allow_feeds: bool, username: str | None = None
) -> TokenOwner:
    """Who this token (login or personal) belongs to. A `feeds` token is a 403 unless
    `allow_feeds`; with `username` (the Pinboard API names both), the token must be that
    user's. Unknown, expired, revoked and deleted tokens are a 401."""
    if not token:
        raise Unauthenticated("missing access token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("unknown access token")
    cache: TokenCache = request.app.state.token_cache
    owner = cache.get(token)
    if owner is None:
        users: UserClient = request.app.state.users
        owner = await users.validate_token(token)
        cache.put(token, owner)
    elif cache.claim_refresh(token):
        refresher: TokenRefresher = request.app.state.token_refresher
        refresher.refresh(token)
    # Usernames are lowercase; a client may send one as its user typed it.
    if username is not None and owner.username != username.strip().lower():
        raise Unauthenticated("the token does not belong to that user")
    request.state.username = owner.username
    if owner.scope == ApiTokenScope.FEEDS and not allow_feeds:
        raise PermissionDenied(
            "this personal API token has the 'feeds' scope: it works only for the feeds "
            "under /feeds/; create a token of scope 'full' for the API"
        )
    return owner


async def current_user(
    request: Request,
    _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    _header_doc: Annotated[str | None, Depends(_access_token)] = None,
) -> str:
    owner = await token_owner(request, presented_token(request), allow_feeds=False)
    return owner.username


async def feed_reader(
    request: Request,
    token: Annotated[
        str | None,
        Query(description="A personal API token of either scope, or a login token"),
    ] = None,
) -> str:
    """The owner of the feed's `token` parameter (feed readers cannot send headers;
    `Authorization: Bearer` works too when it is absent), rate limited like any user."""
    presented = token.strip() if token is not None else presented_token(request)
    owner = await token_owner(request, presented, allow_feeds=True)
    limiter: RateLimiter = request.app.state.limiter
    await limiter.check(owner.username)
    return owner.username


CurrentUser = Annotated[str, Depends(current_user)]
FeedReader = Annotated[str, Depends(feed_reader)]
