"""link-manager's storage interface and its in-memory implementation (for unit tests).

Every write also records its link event in the outbox, atomically with the change:
that is the store's job, not the caller's, so no code path can forget it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from delinkcious import tracing
from delinkcious.db import regex_search
from delinkcious.errors import AlreadyExists, InvalidArgument, LimitExceeded, NotFound
from delinkcious.models import (
    MAX_TAGS,
    MAX_TITLE_LENGTH,
    CheckRequest,
    EventType,
    Link,
    LinkCheckResult,
    LinkEvent,
    LinkStatus,
    TagCount,
)
from delinkcious.timeutil import utcnow

if TYPE_CHECKING:  # bulk builds on this module
    from collections.abc import Sequence

    from link_service.bulk import ImportItem, Outcome


@dataclass(frozen=True)
class LinkQuery:
    owner: str
    url_regex: str | None = None
    title_regex: str | None = None
    description_regex: str | None = None
    tags: tuple[str, ...] = ()
    private: bool | None = None
    # Keyset position (created_at, id) of the last link already returned: only links
    # after it in the order (newest created_at first, then highest id first).
    after: tuple[datetime, int] | None = None
    limit: int = 20

    def is_after(self, stored: StoredLink) -> bool:
        return self.after is None or (stored.link.created_at, stored.id) < self.after


@dataclass(frozen=True)
class LinkChange:
    """An update: None leaves a field as it is. Tags are applied to the tags the link
    has when the store holds its lock, so concurrent tag edits do not lose each other."""

    title: str | None = None
    description: str | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    private: bool | None = None

    def new_tags(self, current: list[str]) -> list[str] | None:
        if not self.add_tags and not self.remove_tags:
            return None
        tags = sorted((set(current) | set(self.add_tags)) - set(self.remove_tags))
        if len(tags) > MAX_TAGS:
            raise InvalidArgument(f"a link has at most {MAX_TAGS} tags")
        return tags


def retagged(tags: list[str], old: str, new: str | None) -> list[str]:
    """A link's tags with `old` replaced by `new` (merged if it is there already) or,
    when `new` is None, removed. Never more tags than before, so never past MAX_TAGS."""
    return sorted((set(tags) - {old}) | ({new} if new is not None else set()))


@dataclass(frozen=True)
class Retagged:
    """What a tag rename or delete did: how many links it changed, and how many carry
    the new name afterwards (as of the same transaction)."""

    changed: int
    carrying_new: int = 0


@dataclass(frozen=True)
class OutboxEntry:
    """An unpublished event and the trace context of the write that recorded it."""

    event: LinkEvent
    trace_context: str | None = None


@dataclass
class StoredLink:
    id: int
    owner: str
    link: Link


class LinkStore(Protocol):
    def add(self, owner: str, link: Link, max_links: int) -> StoredLink:
        """AlreadyExists for a duplicate URL, LimitExceeded past max_links."""

    def get(self, owner: str, url: str) -> StoredLink | None: ...

    def update(self, owner: str, url: str, change: LinkChange, now: datetime) -> StoredLink:
        """NotFound when the link does not exist."""

    def delete(self, owner: str, url: str, now: datetime) -> None:
        """NotFound when the link does not exist."""

    def find(self, query: LinkQuery) -> list[StoredLink]:
        """Newest created_at first, ties by highest id (last saved) first; at most
        query.limit links."""

    def import_batch(
        self, owner: str, items: Sequence[ImportItem], max_links: int, now: datetime
    ) -> list[Outcome | str]:
        """Merges or adds each item (bulk.plan_batch), all in one transaction with their
        events; one outcome per item, a str saying why an item failed."""

    def apply_check(self, result: LinkCheckResult, now: datetime | None = None) -> bool:
        """False when the link is gone, was re-added since, or a newer result is in.
        A result that fills the link's empty title moves the owner's last change to
        `now` (else the time it is applied)."""

    def tag_counts(self, owner: str) -> list[TagCount]:
        """Every tag of the owner's links with how many carry it, sorted by name."""

    def last_change(self, owner: str) -> datetime | None:
        """When the owner's links were last added, changed or deleted (each such
        change records an event), or a check filled one's empty title; None when
        they never had one."""

    def retag(self, owner: str, old: str, new: str | None, now: datetime) -> Retagged:
        """In one transaction, every link of the owner tagged `old` is tagged `new`
        instead (merging), or loses `old` when `new` is None; each changed link emits
        one link_updated. `changed` is 0 when no link had the tag."""

    def pending_events(self, limit: int) -> list[LinkEvent]:
        """Outbox rows not yet published, oldest first."""

    def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        """The same, each with its trace context."""

    def outbox_backlog(self) -> tuple[int, datetime | None]:
        """How many rows are unpublished, and when the oldest of them happened."""

    def mark_published(self, event_ids: list[str], now: datetime) -> None: ...

    def purge_published(self, before: datetime) -> int:
        """Deletes outbox rows published before `before`; returns how many."""

    def due_for_check(
        self, checked_before: datetime, pending_before: datetime, limit: int
    ) -> list[CheckRequest]:
        """Links last checked before `checked_before`, or still pending since before
        `pending_before` (their first check was lost), least recently checked first."""


def new_event(kind: EventType, stored: StoredLink, at: datetime) -> LinkEvent:
    return LinkEvent(
        event_id=str(uuid.uuid4()),
        event_type=kind,
        link_id=stored.id,
        username=stored.owner,
        url=stored.link.url,
        title=stored.link.title,
        timestamp=at,
        private=stored.link.private,
    )


def checked_title(result: LinkCheckResult) -> str:
    """The title a check found, as a link keeps one (a page's title may be long)."""
    return (result.title or "").strip()[:MAX_TITLE_LENGTH]


def _regex_ok(pattern: str | None, value: str) -> bool:
    return pattern is None or regex_search(pattern, value)


@dataclass
class InMemoryLinkStore:
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _links: dict[tuple[str, str], StoredLink] = field(default_factory=dict)
    _next_id: int = 1
    outbox: list[tuple[LinkEvent, datetime | None]] = field(default_factory=list)
    trace_contexts: dict[str, str] = field(default_factory=dict)  # by event id
    _changed: dict[str, datetime] = field(default_factory=dict)  # by owner

    def _record(self, event: LinkEvent) -> None:
        self.outbox.append((event, None))
        previous = self._changed.get(event.username)
        if previous is None or previous < event.timestamp:
            self._changed[event.username] = event.timestamp
        context = tracing.capture()
        if context is not None:
            self.trace_contexts[event.event_id] = context

    def add(self, owner: str, link: Link, max_links: int) -> StoredLink:
        with self._lock:
            if (owner, link.url) in self._links:
                raise AlreadyExists(f"a link with url {link.url} already exists")
            if sum(1 for o, _ in self._links if o == owner) >= max_links:
                raise LimitExceeded(f"a user has at most {max_links} links")
            stored = StoredLink(self._next_id, owner, link)
            self._next_id += 1
            self._links[(owner, link.url)] = stored
            # The event happens when the link is saved, whatever created_at an import gave.
            self._record(new_event(EventType.LINK_ADDED, stored, link.updated_at))
            return stored

    def get(self, owner: str, url: str) -> StoredLink | None:
        return self._links.get((owner, url))

    def tag_counts(self, owner: str) -> list[TagCount]:
        counts: dict[str, int] = {}
        for stored in self._links.values():
            if stored.owner == owner:
                for tag in stored.link.tags:
                    counts[tag] = counts.get(tag, 0) + 1
        return [TagCount(name=name, count=counts[name]) for name in sorted(counts)]

    def last_change(self, owner: str) -> datetime | None:
        return self._changed.get(owner)

    def retag(self, owner: str, old: str, new: str | None, now: datetime) -> Retagged:
        with self._lock:
            tagged = sorted(
                (s for s in self._links.values() if s.owner == owner and old in s.link.tags),
                key=lambda s: s.id,
            )
            for stored in tagged:
                tags = retagged(stored.link.tags, old, new)
                stored.link = stored.link.model_copy(update={"tags": tags, "updated_at": now})
                self._record(new_event(EventType.LINK_UPDATED, stored, now))
            carrying = sum(1 for s in self._links.values() if s.owner == owner and new in s.link.tags)
            return Retagged(len(tagged), carrying if new is not None else 0)

    def update(self, owner: str, url: str, change: LinkChange, now: datetime) -> StoredLink:
        with self._lock:
            stored = self._links.get((owner, url))
            if stored is None:
                raise NotFound(f"no link with url {url}")
            updates: dict[str, object] = {"updated_at": now}
            if change.title is not None:
                updates["title"] = change.title
            if change.description is not None:
                updates["description"] = change.description
            if change.private is not None:
                updates["private"] = change.private
            tags = change.new_tags(stored.link.tags)
            if tags is not None:
                updates["tags"] = tags
            stored.link = stored.link.model_copy(update=updates)
            self._record(new_event(EventType.LINK_UPDATED, stored, now))
            return stored

    def delete(self, owner: str, url: str, now: datetime) -> None:
        with self._lock:
            stored = self._links.pop((owner, url), None)
            if stored is None:
                raise NotFound(f"no link with url {url}")
            self._record(new_event(EventType.LINK_DELETED, stored, now))

    def find(self, query: LinkQuery) -> list[StoredLink]:
        found = [
            s
            for s in self._links.values()
            if s.owner == query.owner
            and query.is_after(s)
            and (query.private is None or s.link.private == query.private)
            and _regex_ok(query.url_regex, s.link.url)
            and _regex_ok(query.title_regex, s.link.title)
            and _regex_ok(query.description_regex, s.link.description)
            and set(query.tags) <= set(s.link.tags)
        ]
        found.sort(key=lambda s: (s.link.created_at, s.id), reverse=True)
        return found[: query.limit]

    def import_batch(
        self, owner: str, items: Sequence[ImportItem], max_links: int, now: datetime
    ) -> list[Outcome | str]:
        from link_service.bulk import plan_batch

        with self._lock:
            count = sum(1 for o, _ in self._links if o == owner)
            existing = {i.url: self._links[(owner, i.url)] for i in items if (owner, i.url) in self._links}
            plan = plan_batch(items, existing, max_links - count, max_links, now)
            for url, link in plan.created.items():
                self._links[(owner, url)] = StoredLink(self._next_id, owner, link)
                self._next_id += 1
            for url, link in plan.updated.items():
                self._links[(owner, url)].link = link
            for kind, link in plan.events:
                stored = StoredLink(self._links[(owner, link.url)].id, owner, link)
                self._record(new_event(kind, stored, now))
            return plan.outcomes

    def apply_check(self, result: LinkCheckResult, now: datetime | None = None) -> bool:
        with self._lock:
            stored = self._links.get((result.username, result.url))
            if stored is None or stored.id != result.link_id:
                return False
            link = stored.link
            if link.checked_at is not None and link.checked_at >= result.checked_at:
                return False
            title = link.title or checked_title(result)
            stored.link = link.model_copy(
                update={"status": result.status, "checked_at": result.checked_at, "title": title}
            )
            if title != link.title:
                at = now or utcnow()
                previous = self._changed.get(result.username)
                if previous is None or previous < at:
                    self._changed[result.username] = at
            return True

    def pending_events(self, limit: int) -> list[LinkEvent]:
        return [e for e, sent in self.outbox if sent is None][:limit]

    def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        return [OutboxEntry(e, self.trace_contexts.get(e.event_id)) for e in self.pending_events(limit)]

    def outbox_backlog(self) -> tuple[int, datetime | None]:
        waiting = [e.timestamp for e, sent in self.outbox if sent is None]
        return len(waiting), min(waiting, default=None)

    def mark_published(self, event_ids: list[str], now: datetime) -> None:
        ids: set[str] = set(event_ids)
        self.outbox = [(e, now if e.event_id in ids else sent) for e, sent in self.outbox]

    def purge_published(self, before: datetime) -> int:
        kept = [(e, sent) for e, sent in self.outbox if sent is None or sent >= before]
        purged, self.outbox = len(self.outbox) - len(kept), kept
        kept_ids = {e.event_id for e, _ in kept}
        self.trace_contexts = {k: v for k, v in self.trace_contexts.items() if k in kept_ids}
        return purged

    def due_for_check(
        self, checked_before: datetime, pending_before: datetime, limit: int
    ) -> list[CheckRequest]:
        def due(s: StoredLink) -> bool:
            checked = s.link.checked_at
            return checked < checked_before if checked is not None else s.link.updated_at < pending_before

        found = sorted(
            (s for s in self._links.values() if due(s)),
            key=lambda s: (s.link.checked_at or s.link.updated_at, s.id),
        )
        return [CheckRequest(link_id=s.id, username=s.owner, url=s.link.url) for s in found[:limit]]


def pending_link(
    url: str,
    title: str,
    description: str,
    tags: list[str],
    now: datetime,
    *,
    private: bool = False,
    created_at: datetime | None = None,
) -> Link:
    """A link about to be saved `now`; `created_at` is an earlier date (an import's)."""
    return Link(
        url=url,
        title=title,
        description=description,
        tags=tags,
        private=private,
        status=LinkStatus.PENDING,
        created_at=created_at or now,
        updated_at=now,
        checked_at=None,
    )
