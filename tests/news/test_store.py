"""The feed stores, Redis and in-memory alike: idempotent writes, trimming, and
newest-first keyset paging that neither repeats nor skips."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import cast

import pytest

from delinkcious.errors import Unavailable
from delinkcious.models import LinkEvent, NewsEvent
from delinkcious.news.versions import NEWS_VERSION_KEY_SECONDS, news_version_key
from news_service.redis_store import RedisFeedStore, feed_key
from news_service.store import FeedStore, InMemoryFeedStore, Position
from tests.news.support import BASE_TIME, link_event, unique

MAX_LENGTH = 1000


@pytest.fixture(params=["redis", "memory"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[FeedStore]:
    if request.param == "memory":
        yield InMemoryFeedStore(MAX_LENGTH)
        return
    redis_store = RedisFeedStore.from_url(request.getfixturevalue("redis_url"), MAX_LENGTH)
    yield redis_store
    await redis_store.aclose()


async def read_all(store: FeedStore, username: str, page_size: int) -> list[NewsEvent]:
    events: list[NewsEvent] = []
    position: Position | None = None
    while True:
        items = await store.page(username, page_size, position)
        events.extend(item.event for item in items)
        if len(items) < page_size:
            return events
        position = items[-1].position


def titles(events: list[NewsEvent]) -> list[str]:
    return [e.title for e in events]


def assert_newest_first(events: list[NewsEvent]) -> None:
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps, reverse=True)


async def test_adding_the_same_event_again_changes_nothing(store: FeedStore) -> None:
    reader, other = unique("r"), unique("r")
    event = link_event("author", 1)
    await store.add(event, [reader])
    await store.add(event, [reader, other])
    await store.add(LinkEvent.model_validate_json(event.model_dump_json()), [reader])
    assert titles(await read_all(store, reader, 10)) == ["link 1"]
    assert titles(await read_all(store, other, 10)) == ["link 1"]


async def test_what_a_reader_sees(store: FeedStore) -> None:
    reader = unique("r")
    event = link_event("author", 7)
    await store.add(event, [reader])
    [item] = await store.page(reader, 10, None)
    assert item.event == NewsEvent(
        event_type=event.event_type,
        username=event.username,
        url=event.url,
        title=event.title,
        timestamp=event.timestamp,
    )


async def test_microseconds_and_unicode_survive(store: FeedStore) -> None:
    reader = unique("r")
    event = link_event("author", 1).model_copy(
        update={
            "timestamp": BASE_TIME + timedelta(microseconds=123_457),
            "title": 'Ünïcødé "quoted" \\ \U0001f600',
        }
    )
    await store.add(event, [reader])
    [item] = await store.page(reader, 10, None)
    assert item.event.timestamp == event.timestamp
    assert item.event.title == event.title


async def test_a_feed_keeps_its_newest_events(store: FeedStore) -> None:
    reader = unique("r")
    events = [link_event("author", n) for n in range(MAX_LENGTH + 20)]
    random.Random(7).shuffle(events)  # arrival order is not time order
    for event in events:
        await store.add(event, [reader])
    kept = await read_all(store, reader, 100)
    assert len(kept) == MAX_LENGTH
    assert titles(kept) == [f"link {n}" for n in range(MAX_LENGTH + 19, 19, -1)]


async def test_paging_250_events_with_ties_returns_each_once_newest_first(store: FeedStore) -> None:
    reader = unique("r")
    # Groups of five share a microsecond, and pages of 7 end inside the groups.
    events = [link_event("author", n, at=BASE_TIME + timedelta(seconds=n // 5)) for n in range(250)]
    random.Random(3).shuffle(events)
    for event in events:
        await store.add(event, [reader])

    seen = await read_all(store, reader, 7)

    assert len(seen) == 250
    assert sorted(titles(seen)) == sorted(f"link {n}" for n in range(250))
    assert_newest_first(seen)
    # Every page size walks the same order: ties are ordered, not left to chance.
    assert titles(await read_all(store, reader, 1)) == titles(seen)
    assert titles(await read_all(store, reader, 250)) == titles(seen)


async def test_events_added_between_pages_cause_no_repeat_and_no_skip(store: FeedStore) -> None:
    reader = unique("r")
    originals = [link_event("author", n, at=BASE_TIME + timedelta(seconds=n // 4)) for n in range(100)]
    for event in originals:
        await store.add(event, [reader])

    seen: list[NewsEvent] = []
    position: Position | None = None
    newer_titles: set[str] = set()
    late: list[str] = []
    for round_ in range(100):
        items = await store.page(reader, 9, position)
        seen.extend(item.event for item in items)
        if len(items) < 9:
            break
        position = items[-1].position
        # Between pages: a newer event (above the reader's position), and one at the
        # very time of the last event shown (a tie either side of it).
        newer = link_event("author", 1000 + round_)
        tie = link_event("author", 2000 + round_, at=items[-1].event.timestamp)
        for event in (newer, tie):
            await store.add(event, [reader])
        newer_titles.add(newer.title)
        late.append(tie.title)

    shown = titles(seen)
    assert len(shown) == len(set(shown)), "an event was shown twice"
    assert set(shown) >= {e.title for e in originals}, "an event was skipped"
    assert not set(shown) & newer_titles, "an event above the position was shown"
    assert_newest_first(seen)
    # A tie lands above or below the position by its id; those below are shown later.
    assert set(shown) - {e.title for e in originals} <= set(late)


async def test_fan_out_writes_every_follower(store: FeedStore) -> None:
    followers = [unique("f") for _ in range(1203)]  # more than two write chunks
    await store.add(link_event("author", 1), followers)
    for follower in (followers[0], followers[600], followers[-1]):
        assert titles(await read_all(store, follower, 10)) == ["link 1"]


async def test_redis_away_is_unavailable() -> None:
    store = RedisFeedStore.from_url("redis://127.0.0.1:1/0", MAX_LENGTH)
    try:
        with pytest.raises(Unavailable):
            await store.page("reader", 10, None)
        with pytest.raises(Unavailable):
            await store.add(link_event("author", 1), ["reader"])
    finally:
        await store.aclose()


async def test_feeds_live_under_their_documented_keys(redis_url: str) -> None:
    store = RedisFeedStore.from_url(redis_url, MAX_LENGTH)
    reader = unique("r")
    try:
        await store.add(link_event("author", 1), [reader])
        await store.add(link_event("author", 2), [reader])
        redis = store._redis
        assert await redis.zcard(feed_key(reader)) == 2
        assert feed_key(reader) == f"news:feed:{reader}"
        pairs = cast(list[tuple[bytes, float]], await redis.zrange(feed_key(reader), 0, -1, withscores=True))
        scores = [score for _, score in pairs]
        assert scores == [(BASE_TIME.timestamp() + n) * 1_000_000 for n in (1, 2)]
    finally:
        await store.aclose()


async def test_each_new_event_moves_the_version_of_every_feed_it_enters(redis_url: str) -> None:
    """The gateway's news cache serves a kept page only while this version holds."""
    store = RedisFeedStore.from_url(redis_url, MAX_LENGTH)
    store._chunk = 2
    readers = [unique("r") for _ in range(5)]  # three chunks: each feed's version is its own
    try:
        redis = store._redis

        async def versions() -> list[str | bytes | None]:
            return [await redis.get(news_version_key(r)) for r in readers]

        assert await versions() == [None] * 5
        first = link_event("author", 1)
        await store.add(first, readers)
        assert await versions() == ["1"] * 5
        await store.add(first, readers)  # a redelivery: no feed changed
        assert await versions() == ["1"] * 5
        await store.add(link_event("author", 2), readers[1:4])
        assert await versions() == ["1", "2", "2", "2", "1"]
        assert news_version_key(readers[0]) == f"news:version:{readers[0]}"
        ttl = await redis.ttl(news_version_key(readers[1]))
        assert NEWS_VERSION_KEY_SECONDS - 60 < ttl <= NEWS_VERSION_KEY_SECONDS
    finally:
        await store.aclose()
