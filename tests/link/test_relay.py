"""The outbox relay sends the events of different links together but never an event
before an earlier one of its link, and marks only what the broker stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from link_service.store import InMemoryLinkStore, pending_link
from link_service.workers import OutboxRelay

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FlakyBus:
    """Acks after a pause so publishes overlap; fails the listed ids once each."""

    def __init__(self, fail_once: set[str]) -> None:
        self.fail_once = fail_once
        self.stored: list[str] = []
        self.in_flight = self.most_in_flight = 0

    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: dict[str, str] | None = None
    ) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if msg_id in self.fail_once:
                self.fail_once.discard(msg_id)
                raise ConnectionError("no ack")
            self.stored.append(msg_id)
        finally:
            self.in_flight -= 1


def _events(store: InMemoryLinkStore) -> list[str]:
    """a's add, b's add, b's delete, c's add: their event ids in outbox order."""
    for owner in ("a", "b"):
        store.add(owner, pending_link(f"https://example.com/{owner}", "", "", [], T0), 100)
    store.delete("b", "https://example.com/b", T0)
    store.add("c", pending_link("https://example.com/c", "", "", [], T0), 100)
    return [entry.event.event_id for entry in store.pending_outbox(10)]


async def test_events_of_different_links_are_in_flight_together() -> None:
    store = InMemoryLinkStore()
    a_add, b_add, b_delete, c_add = _events(store)
    bus = FlakyBus(set())
    relay = OutboxRelay(store, bus)  # type: ignore[arg-type]
    assert await relay.relay_once() == 4
    # The first publish alone (the bus may still be creating its streams), then b's add,
    # then b's delete with c's add.
    assert bus.stored[:2] == [a_add, b_add] and set(bus.stored[2:]) == {b_delete, c_add}
    assert bus.most_in_flight == 2
    assert store.pending_outbox(10) == []


async def test_a_failed_publish_holds_back_the_later_events_of_its_link() -> None:
    store = InMemoryLinkStore()
    a_add, b_add, b_delete, c_add = _events(store)
    bus = FlakyBus({b_add})
    relay = OutboxRelay(store, bus)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await relay.relay_once()
    assert bus.stored == [a_add]  # b's delete did not overtake its add
    assert [e.event.event_id for e in store.pending_outbox(10)] == [b_add, b_delete, c_add]
    assert await relay.relay_once() == 3
    assert bus.stored.index(b_add) < bus.stored.index(b_delete)
    assert store.pending_outbox(10) == []
