"""The gateway's news cache against a real Redis: a page is kept under the version of
the reader's feed, which news-manager's feed store moves as it adds an event, and which
the gateway reads in its rate limiter's round trip. The clock never moves, so only a
delivery can end a kept page."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from starlette.requests import Request

from api_gateway.deps import news_reader
from api_gateway.list_cache import ListCache, Listing
from api_gateway.ratelimit import InMemoryRateLimiter, RedisRateLimiter
from api_gateway.shared_state import SharedState
from delinkcious.metrics import GATEWAY_NEWS_CACHE_LOOKUPS
from news_service.redis_store import RedisFeedStore
from tests.list_cache.test_cache import Backend, Clock
from tests.news.support import link_event, unique
from tests.servers import RedisServer


def news_cache(shared: SharedState | None, clock: Clock) -> ListCache:
    """As replicas.install makes it."""
    return ListCache(60.0, 1 << 20, shared, clock, lookups=GATEWAY_NEWS_CACHE_LOOKUPS, never_keep=None)


def gateway_request(limiter: object, cache: ListCache) -> Request:
    app = FastAPI()
    app.state.limiter = limiter
    app.state.news_cache = cache
    return Request({"type": "http", "app": app})


def lookups(outcome: str) -> float:
    return GATEWAY_NEWS_CACHE_LOOKUPS.labels(outcome)._value.get()


def test_a_kept_news_page_ends_when_an_event_enters_the_feed(redis: RedisServer) -> None:
    reader, other = unique("reader"), unique("other")

    async def scenario() -> None:
        shared = SharedState(redis.url)
        feeds = RedisFeedStore.from_url(redis.url, 100)
        cache = news_cache(shared, Clock())
        request = gateway_request(RedisRateLimiter(shared, per_second=1000, burst=1000), cache)
        backend = Backend(b'{"events":[{"event_type":"link_added"}],"next_page_token":""}')
        try:

            async def read() -> bytes:
                return await cache.page(await news_reader(request, reader), (20, ""), backend)

            hits = lookups("hit")
            assert await read() == backend.answer
            assert await read() == backend.answer
            assert backend.calls == 1  # the second read came from the cache
            assert lookups("hit") == hits + 1

            await feeds.add(link_event("author", 1), [other])  # another reader's feed
            await read()
            assert backend.calls == 1

            await feeds.add(link_event("author", 2), [other, reader])
            await read()
            assert backend.calls == 2  # fetched again: the feed changed
            await read()
            assert backend.calls == 2

            event = link_event("author", 3)
            await feeds.add(event, [reader])
            await feeds.add(event, [reader])  # a redelivery moves nothing
            await read()
            await read()
            assert backend.calls == 3
        finally:
            await feeds.aclose()
            await shared.aclose()

    asyncio.run(scenario())


def test_without_redis_no_news_page_is_kept() -> None:
    """Nothing would tell this replica of a delivery."""

    async def scenario() -> None:
        cache = news_cache(None, Clock())
        request = gateway_request(InMemoryRateLimiter(1000, 1000), cache)
        backend = Backend(b'{"events":[],"next_page_token":""}')
        bypassed = lookups("bypass")
        for _ in range(3):
            listing = await news_reader(request, "ann")
            assert listing == Listing("ann", None)
            await cache.page(listing, (20, ""), backend)
        assert backend.calls == 3
        assert lookups("bypass") == bypassed + 3

    asyncio.run(scenario())
