"""The link-event consumer on a real NATS JetStream (a server of the test's own) and
the real Redis: events fill followers' feeds, once each however often they arrive,
and a message is acknowledged only once its feeds are written."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import pytest
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from delinkcious.events import EventBus, link_subject
from delinkcious.models import EventType, LinkEvent
from news_service.consumer import LINK_EVENTS, link_event_handler, run_link_events
from news_service.redis_store import RedisFeedStore
from news_service.service import NewsService
from tests.news.support import FakeFollowers, codec, link_event, unique, wait_until
from tests.servers import NatsServer


@dataclass
class FakeMsg:
    subject: str
    data: bytes
    leases: int = 0

    async def in_progress(self) -> None:
        self.leases += 1


@dataclass
class Consuming:
    bus: EventBus
    store: RedisFeedStore
    directory: FakeFollowers
    service: NewsService
    # The stream's last sequence after this test's latest publish.
    published_through: int = 0

    async def publish(self, event: LinkEvent, msg_id: str | None = None) -> None:
        await self.publish_raw(event.event_type.value, event.model_dump_json().encode(), msg_id)

    async def publish_raw(self, event_type: str, data: bytes, msg_id: str | None = None) -> None:
        await self.bus.publish(link_subject(event_type), data, msg_id or str(uuid.uuid4()))
        stream = await self.bus.js.stream_info(LINK_EVENTS.stream)
        self.published_through = stream.state.last_seq

    async def settled(self) -> bool:
        """Everything published was delivered and acknowledged. Nothing pending alone is
        not enough: right after a publish the consumer's counts may not include it yet."""
        try:
            info = await self.bus.js.consumer_info(LINK_EVENTS.stream, LINK_EVENTS.durable)
        except NotFoundError:  # the consumer task has not created its durable yet
            return False
        delivered = info.delivered.stream_seq if info.delivered is not None else 0
        return (
            (delivered or 0) >= self.published_through and info.num_pending == 0 and info.num_ack_pending == 0
        )

    async def deliveries(self) -> int:
        """How many times the consumer handed out a message, redeliveries included."""
        info = await self.bus.js.consumer_info(LINK_EVENTS.stream, LINK_EVENTS.durable)
        assert info.delivered is not None
        return int(info.delivered.consumer_seq or 0)

    async def titles(self, username: str) -> list[str]:
        page = await self.service.get_news(username, 100)
        return [e.title for e in page.events]


@pytest.fixture
async def consuming(own_nats: NatsServer, redis_url: str) -> AsyncIterator[Consuming]:
    bus = EventBus(own_nats.url, "news-test")
    await bus.connect()
    await bus.ensure_streams()
    store = RedisFeedStore.from_url(redis_url, 1000)
    directory = FakeFollowers()
    service = NewsService(store, directory, codec())
    stop = asyncio.Event()
    task = asyncio.create_task(run_link_events(service, bus, stop, retry_delay=0.05))
    try:
        yield Consuming(bus, store, directory, service)
    finally:
        stop.set()
        await task
        await bus.close()
        await store.aclose()


async def test_events_fill_the_feeds_of_the_authors_followers(consuming: Consuming) -> None:
    alice, bob = unique("alice"), unique("bob")
    readers = [unique("r") for _ in range(3)]
    consuming.directory.followers = {alice: readers, bob: readers[:1]}
    events = [
        link_event(alice, 1, event_type=EventType.LINK_ADDED),
        link_event(bob, 2, event_type=EventType.LINK_ADDED),
        link_event(alice, 3, event_type=EventType.LINK_UPDATED),
        link_event(alice, 4, event_type=EventType.LINK_DELETED),
    ]
    for event in events:
        await consuming.publish(event)

    await wait_until(consuming.settled)
    assert await consuming.titles(readers[0]) == ["link 4", "link 3", "link 2", "link 1"]
    for reader in readers[1:]:
        assert await consuming.titles(reader) == ["link 4", "link 3", "link 1"]
    page = await consuming.service.get_news(readers[1])
    assert [e.event_type for e in page.events] == [
        EventType.LINK_DELETED,
        EventType.LINK_UPDATED,
        EventType.LINK_ADDED,
    ]
    assert await consuming.titles(alice) == []


async def test_a_duplicated_and_redelivered_event_adds_nothing(consuming: Consuming) -> None:
    author, reader = unique("a"), unique("r")
    consuming.directory.followers = {author: [reader]}
    event = link_event(author, 1)

    # Two copies the broker cannot recognise as one (different message ids)...
    await consuming.publish(event, msg_id="first-" + event.event_id)
    await consuming.publish(event, msg_id="second-" + event.event_id)
    await wait_until(consuming.settled)
    assert [call[0] for call in consuming.directory.calls] == [author, author]  # handled twice
    assert await consuming.deliveries() == 2

    # ...and the handler run once more on the same message, as after a lost ack.
    msg = FakeMsg(link_subject("link_added"), event.model_dump_json().encode())
    await link_event_handler(consuming.service)(cast(Msg, msg))
    assert len(consuming.directory.calls) == 3

    assert await consuming.titles(reader) == ["link 1"]


async def test_a_failed_fan_out_is_redelivered_and_delivered_once(consuming: Consuming) -> None:
    author, reader = unique("a"), unique("r")
    consuming.directory.followers = {author: [reader]}
    consuming.directory.failures = 2  # social-graph-manager away for two attempts
    await consuming.publish(link_event(author, 1))

    await wait_until(consuming.settled)
    assert len(consuming.directory.calls) == 3
    assert await consuming.deliveries() == 3  # nacked twice, acknowledged once
    assert await consuming.titles(reader) == ["link 1"]


async def test_malformed_messages_are_logged_and_acknowledged(
    consuming: Consuming, caplog: pytest.LogCaptureFixture
) -> None:
    author, reader = unique("a"), unique("r")
    consuming.directory.followers = {author: [reader]}
    caplog.set_level(logging.INFO, logger="news_service.consumer")

    await consuming.publish_raw("link_added", b"not json at all")
    await consuming.publish_raw("link_added", b'{"event_id": "only-an-id"}')
    bad_author = link_event("Not A Username", 1)
    await consuming.publish(bad_author)
    await consuming.publish(link_event(author, 2))

    await wait_until(consuming.settled)
    assert await consuming.titles(reader) == ["link 2"]
    assert await consuming.deliveries() == 4  # each acknowledged at its first delivery
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("dropping malformed link event") == 2
    assert messages.count("dropping undeliverable link event") == 1
