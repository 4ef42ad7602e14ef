"""news-manager's feed storage: the interface, the entry format both implementations
share, and the in-memory implementation (for unit tests).

A feed is ordered newest first by (score, member), score being the event time in
integer microseconds and member a deterministic encoding of the event. Writing the
same event twice writes the same (score, member) pair, so it is a no-op: redelivered
and duplicated events leave no trace. Ties on the score are ordered by member bytes,
which is how Redis orders them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import orjson

from delinkcious.models import EventType, LinkEvent, NewsEvent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Scores are doubles in Redis: integers up to 2**53 are exact (about year 2255 in µs).
MAX_SCORE = 2**53


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last event's score, and a probe that sorts just below its
    member (its event id, as the member begins). Short enough for a page token, and
    exact: the next page is every entry strictly below (score, probe)."""

    score: int
    probe: str


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One feed entry, its member's fields parsed. The NewsEvent and the position are
    built on demand: the gRPC answer is made from the fields, and a page needs only
    its last item's position."""

    event_id: str
    event_type: EventType
    username: str
    url: str
    title: str
    score: int

    @property
    def event(self) -> NewsEvent:
        return NewsEvent(
            event_type=self.event_type,
            username=self.username,
            url=self.url,
            title=self.title,
            timestamp=_moment(self.score),
        )

    @property
    def position(self) -> Position:
        return Position(self.score, probe_of(self.event_id))


def score_of(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _moment(score: int) -> datetime:
    return _EPOCH + score * _MICROSECOND


def probe_of(event_id: str) -> str:
    """The prefix every member of this event starts with: `["<event id>",`. A member
    is above its own probe, and a member of another event is above or below it as its
    event id is."""
    return json.dumps([event_id])[:-1] + ","


def encode(event: LinkEvent) -> tuple[str, int]:
    """(member, score). Compact ASCII JSON, always the same for the same event: the
    event id first (so a tie orders by it), then what a reader of the news sees."""
    score = score_of(event.timestamp)
    member = json.dumps(
        [event.event_id, event.event_type.value, event.username, event.url, event.title, score],
        separators=(",", ":"),
    )
    return member, score


def decode(member: str | bytes) -> FeedItem:
    event_id, event_type, username, url, title, score = orjson.loads(member)
    return FeedItem(event_id, EventType(event_type), username, url, title, score)


def sort_key(member: str, score: int) -> tuple[int, bytes]:
    """Ascending order of a sorted set: by score, then by member bytes."""
    return score, member.encode()


def after(position: Position | None, member: str, score: int) -> bool:
    """Whether an entry comes after `position` in newest-first order."""
    if position is None:
        return True
    return sort_key(member, score) < sort_key(position.probe, position.score)


class FeedStore(Protocol):
    async def add(self, event: LinkEvent, followers: Sequence[str]) -> None:
        """Adds the event to every follower's feed and trims each to its newest entries.
        Idempotent; raises if any write failed (the caller retries the whole event)."""

    async def page(self, username: str, limit: int, position: Position | None) -> list[FeedItem]:
        """Up to `limit` entries of the user's feed, newest first, strictly after
        `position` (from the start when None)."""


class InMemoryFeedStore:
    def __init__(self, max_length: int) -> None:
        self._max = max_length
        self._lock = asyncio.Lock()
        self._feeds: dict[str, dict[str, int]] = {}

    async def add(self, event: LinkEvent, followers: Sequence[str]) -> None:
        member, score = encode(event)
        async with self._lock:
            for follower in followers:
                feed = self._feeds.setdefault(follower, {})
                feed[member] = score
                if len(feed) > self._max:
                    newest = sorted(feed.items(), key=lambda e: sort_key(*e))[-self._max :]
                    self._feeds[follower] = dict(newest)

    async def page(self, username: str, limit: int, position: Position | None) -> list[FeedItem]:
        feed = self._feeds.get(username, {})
        entries = sorted(feed.items(), key=lambda e: sort_key(*e), reverse=True)
        return [decode(m) for m, s in entries if after(position, m, s)][:limit]

    def size(self, username: str) -> int:
        return len(self._feeds.get(username, {}))
