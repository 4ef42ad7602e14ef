"""Events of private links reach nobody's news, on the real Redis feed store: making a
link public later delivers its update, making it private removes nothing delivered."""

from __future__ import annotations

from delinkcious.models import EventType, LinkEvent
from news_service.redis_store import RedisFeedStore
from news_service.service import NewsService
from tests.news.support import FakeFollowers, codec, link_event, unique


def event(author: str, n: int, kind: EventType, private: bool) -> LinkEvent:
    return link_event(author, n, event_type=kind).model_copy(update={"private": private})


async def test_private_events_reach_no_feed_and_going_public_does(redis_url: str) -> None:
    author, follower = unique("author"), unique("follower")
    directory = FakeFollowers({author: [follower]})
    store = RedisFeedStore.from_url(redis_url, 1000)
    service = NewsService(store, directory, codec())
    try:
        added = event(author, 1, EventType.LINK_ADDED, True)
        assert await service.fan_out(added) == 0
        assert directory.calls == []  # not even asked who follows
        assert (await service.get_news(follower)).events == []

        public = link_event(author, 2, event_type=EventType.LINK_UPDATED).model_copy(
            update={"private": False}
        )
        assert await service.fan_out(public) == 1
        hidden = event(author, 3, EventType.LINK_UPDATED, True)
        assert await service.fan_out(hidden) == 0
        deleted = link_event(author, 4, event_type=EventType.LINK_DELETED).model_copy(
            update={"private": True}
        )
        assert await service.fan_out(deleted) == 0

        news = (await service.get_news(follower)).events
        assert [(e.event_type, e.url) for e in news] == [(EventType.LINK_UPDATED, public.url)]
    finally:
        await store.aclose()
