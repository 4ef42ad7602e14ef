"""One event to 10,000 followers on the real Redis: every feed gets it exactly once.
How long it took is printed and recorded (no assertion on time)."""

from __future__ import annotations

import time
from collections.abc import Callable

from news_service.redis_store import RedisFeedStore, feed_key
from news_service.service import NewsService
from tests.news.support import FakeFollowers, codec, link_event, unique

FOLLOWERS = 10_000


async def test_fan_out_to_10000_followers(
    redis_url: str, record_property: Callable[[str, object], None]
) -> None:
    author = unique("star")
    followers = [unique("f") for _ in range(FOLLOWERS)]
    directory = FakeFollowers({author: followers})
    store = RedisFeedStore.from_url(redis_url, 1000)
    service = NewsService(store, directory, codec())
    try:
        event = link_event(author, 1)
        start = time.perf_counter()
        reached = await service.fan_out(event)
        elapsed = time.perf_counter() - start
        record_property("fan_out_10000_followers_seconds", round(elapsed, 3))
        print(f"\nfan-out of one event to {FOLLOWERS} followers took {elapsed:.3f}s")

        assert reached == FOLLOWERS
        assert len(directory.calls) == FOLLOWERS // 1000  # pages of 1000
        await service.fan_out(event)  # a redelivery
        pipe = store._redis.pipeline(transaction=False)
        for follower in followers:
            pipe.zcard(feed_key(follower))
        assert await pipe.execute() == [1] * FOLLOWERS
        page = await service.get_news(followers[-1])
        assert [(e.username, e.url) for e in page.events] == [(author, event.url)]
    finally:
        await store.aclose()
