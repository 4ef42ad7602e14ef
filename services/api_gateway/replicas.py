"""What the gateway replicas share, wired by configuration: with REDIS_URL the token
cache, rate limiter, used login states and the versions of the list and news caches are the
Redis ones (shared_state.py), without it the in-memory ones, behind the same interfaces."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from api_gateway.auth import TokenCache
from api_gateway.list_cache import ListCache
from api_gateway.login.states import RedisUsedStates, UsedStates
from api_gateway.ratelimit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from api_gateway.revocation import SharedTokenCache
from api_gateway.settings import GatewaySettings
from api_gateway.shared_state import SharedState
from delinkcious.metrics import GATEWAY_NEWS_CACHE_LOOKUPS
from delinkcious.tasks import cancel_and_wait


def install(app: FastAPI, settings: GatewaySettings) -> None:
    limiter: RateLimiter
    if settings.redis_url:
        shared = SharedState(settings.redis_url)
        app.state.shared_state = shared
        cache = SharedTokenCache(settings.token_cache_seconds, shared)
        app.state.token_cache = cache
        # A response is sent only after the revocations its request made were published,
        # so a client told "logged out" finds its token refused everywhere.
        app.state.before_response.append(cache.published)
        limiter = RedisRateLimiter(shared, settings.rate_limit_per_second, settings.rate_limit_burst)
    else:
        app.state.shared_state = None
        app.state.token_cache = TokenCache(settings.token_cache_seconds)
        limiter = InMemoryRateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.limiter = limiter
    app.state.list_cache = ListCache(
        settings.list_cache_seconds, settings.list_cache_max_bytes, app.state.shared_state
    )
    # A news event is never pending: every page may be kept. Without Redis nothing tells
    # this replica of a delivery, so no news page is kept (deps.news_reader).
    app.state.news_cache = ListCache(
        settings.news_cache_seconds,
        settings.news_cache_max_bytes,
        app.state.shared_state,
        lookups=GATEWAY_NEWS_CACHE_LOOKUPS,
        never_keep=None,
    )


def used_states(app: FastAPI) -> UsedStates | None:
    """The Redis record of used login states, or None for the login's in-memory default."""
    shared: SharedState | None = app.state.shared_state
    return RedisUsedStates(shared) if shared is not None else None


@contextlib.asynccontextmanager
async def shared(app: FastAPI) -> AsyncIterator[None]:
    """For the app's lifetime: subscribed to the revocation channel, if Redis is used."""
    state: SharedState | None = app.state.shared_state
    if state is None:
        yield
        return
    cache: SharedTokenCache = app.state.token_cache
    listener = asyncio.create_task(cache.run(), name="revocation-channel")
    try:
        yield
    finally:
        await cancel_and_wait(listener)
        await cache.aclose()
        await state.aclose()
