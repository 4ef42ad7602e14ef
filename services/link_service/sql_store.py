"""link-manager's SQL store (Postgres in production, SQLite locally)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from delinkcious import tracing
from delinkcious.db import is_bad_regex_error, regex_match, transaction
from delinkcious.errors import AlreadyExists, InvalidArgument, LimitExceeded, NotFound
from delinkcious.models import CheckRequest, EventType, Link, LinkCheckResult, LinkEvent, LinkStatus, TagCount
from link_service.bulk import ImportItem, Outcome
from link_service.sql_tags import count_tag, retag_links
from link_service.store import (
    LinkChange,
    LinkQuery,
    OutboxEntry,
    Retagged,
    StoredLink,
    new_event,
)
from link_service.tables import link_quota, link_tags, links, outbox

_LINK_COLUMNS = (
    links.c.id,
    links.c.owner,
    links.c.url,
    links.c.title,
    links.c.description,
    links.c.tags,
    links.c.private,
    links.c.status,
    links.c.created_at,
    links.c.updated_at,
    links.c.checked_at,
)


def _stored(row: Any) -> StoredLink:
    return StoredLink(
        id=row.id,
        owner=row.owner,
        link=Link(
            url=row.url,
            title=row.title,
            description=row.description,
            tags=json.loads(row.tags),
            private=row.private,
            status=LinkStatus(row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
            checked_at=row.checked_at,
        ),
    )


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def _insert(session: Session, table: sa.Table) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


class SqlLinkStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # ------------------------------------------------------------------ writes

    def add(self, owner: str, link: Link, max_links: int) -> StoredLink:
        try:
            with transaction(self._sessions) as s:
                if self._find(s, owner, link.url, lock=False) is not None:
                    raise AlreadyExists(f"a link with url {link.url} already exists")
                s.execute(_insert(s, link_quota).values(owner=owner, link_count=0).on_conflict_do_nothing())
                # Atomic check-and-increment: concurrent adds queue on this row's lock,
                # and each re-reads the count the previous one committed.
                taken = _rowcount(
                    s.execute(
                        sa.update(link_quota)
                        .where(link_quota.c.owner == owner, link_quota.c.link_count < max_links)
                        .values(link_count=link_quota.c.link_count + 1)
                    )
                )
                if taken == 0:
                    raise LimitExceeded(f"a user has at most {max_links} links")
                link_id = s.execute(
                    sa.insert(links)
                    .values(
                        owner=owner,
                        url=link.url,
                        title=link.title,
                        description=link.description,
                        tags=json.dumps(link.tags),
                        private=link.private,
                        status=link.status.value,
                        created_at=link.created_at,
                        updated_at=link.updated_at,
                        checked_at=link.checked_at,
                    )
                    .returning(links.c.id)
                ).scalar_one()
                self._write_tags(s, link_id, link.tags)
                stored = StoredLink(link_id, owner, link)
                # The event happens when the link is saved, whatever created_at an import gave.
                self._record(s, new_event(EventType.LINK_ADDED, stored, link.updated_at))
                return stored
        except IntegrityError:
            # Lost a race with an add of the same URL; the whole transaction rolled back.
            raise AlreadyExists(f"a link with url {link.url} already exists") from None

    def update(self, owner: str, url: str, change: LinkChange, now: datetime) -> StoredLink:
        with transaction(self._sessions) as s:
            current = self._find(s, owner, url, lock=True)
            if current is None:
                raise NotFound(f"no link with url {url}")
            values: dict[str, Any] = {"updated_at": now}
            if change.title is not None:
                values["title"] = change.title
            if change.description is not None:
                values["description"] = change.description
            if change.private is not None:
                values["private"] = change.private
            tags = change.new_tags(current.link.tags)
            if tags is not None:
                values["tags"] = json.dumps(tags)
                s.execute(sa.delete(link_tags).where(link_tags.c.link_id == current.id))
                self._write_tags(s, current.id, tags)
            s.execute(sa.update(links).where(links.c.id == current.id).values(**values))
            stored = self._find(s, owner, url, lock=False)
            assert stored is not None
            self._record(s, new_event(EventType.LINK_UPDATED, stored, now))
            return stored

    def delete(self, owner: str, url: str, now: datetime) -> None:
        with transaction(self._sessions) as s:
            current = self._find(s, owner, url, lock=True)
            if current is None:
                raise NotFound(f"no link with url {url}")
            s.execute(sa.delete(link_tags).where(link_tags.c.link_id == current.id))
            s.execute(sa.delete(links).where(links.c.id == current.id))
            s.execute(
                sa.update(link_quota)
                .where(link_quota.c.owner == owner)
                .values(link_count=link_quota.c.link_count - 1)
            )
            self._record(s, new_event(EventType.LINK_DELETED, current, now))

    def retag(self, owner: str, old: str, new: str | None, now: datetime) -> Retagged:
        with transaction(self._sessions) as s:
            events = retag_links(s, owner, old, new, now)
            self._record_many(s, events)
            carrying = count_tag(s, owner, new) if new is not None and events else 0
            return Retagged(len(events), carrying)

    def apply_check(self, result: LinkCheckResult) -> bool:
        title = (result.title or "").strip()[:500]
        with transaction(self._sessions) as s:
            applied = _rowcount(
                s.execute(
                    sa.update(links)
                    .where(
                        # The id pins the incarnation: a link deleted and re-added has a new id.
                        links.c.id == result.link_id,
                        links.c.owner == result.username,
                        links.c.url == result.url,
                        sa.or_(links.c.checked_at.is_(None), links.c.checked_at < result.checked_at),
                    )
                    .values(
                        status=result.status.value,
                        checked_at=result.checked_at,
                        title=sa.case((links.c.title == "", title), else_=links.c.title),
                    )
                )
            )
            return bool(applied)

    # ------------------------------------------------------------------ bulk import

    def import_batch(
        self, owner: str, items: Sequence[ImportItem], max_links: int, now: datetime
    ) -> list[Outcome | str]:
        from link_service import sql_bulk  # which builds on this module's helpers

        return sql_bulk.import_batch(self._sessions, owner, items, max_links, now)

    # ------------------------------------------------------------------ reads

    def get(self, owner: str, url: str) -> StoredLink | None:
        with self._sessions() as s:
            return self._find(s, owner, url, lock=False)

    def tag_counts(self, owner: str) -> list[TagCount]:
        stmt = (
            sa.select(link_tags.c.tag, sa.func.count())
            .join(links, links.c.id == link_tags.c.link_id)
            .where(links.c.owner == owner)
            .group_by(link_tags.c.tag)
        )
        with self._sessions() as s:
            counts = s.execute(stmt).all()
        # Sorted here, by code point as link tags are, not by the database's collation.
        return [TagCount(name=tag, count=count) for tag, count in sorted(counts)]

    def find(self, query: LinkQuery) -> list[StoredLink]:
        stmt = sa.select(*_LINK_COLUMNS).where(links.c.owner == query.owner)
        if query.after is not None:
            created_at, link_id = query.after
            # Spelled out rather than as a row comparison, which SQLite's planner
            # cannot turn into an index range; the leading term bounds the scan.
            stmt = stmt.where(
                links.c.created_at <= created_at,
                sa.or_(
                    links.c.created_at < created_at,
                    sa.and_(links.c.created_at == created_at, links.c.id < link_id),
                ),
            )
        if query.private is not None:
            stmt = stmt.where(links.c.private == query.private)
        for column, pattern in (
            (links.c.url, query.url_regex),
            (links.c.title, query.title_regex),
            (links.c.description, query.description_regex),
        ):
            if pattern is not None:
                stmt = stmt.where(regex_match(column, pattern))
        for tag in query.tags:
            stmt = stmt.where(sa.exists().where(link_tags.c.link_id == links.c.id, link_tags.c.tag == tag))
        stmt = stmt.order_by(links.c.created_at.desc(), links.c.id.desc()).limit(query.limit)
        try:
            with self._sessions() as s:
                return [_stored(row) for row in s.execute(stmt)]
        except DBAPIError as exc:
            if is_bad_regex_error(exc):
                raise InvalidArgument("a regex filter is not a valid regular expression") from None
            raise

    # ------------------------------------------------------------------ outbox

    def pending_events(self, limit: int) -> list[LinkEvent]:
        return [entry.event for entry in self.pending_outbox(limit)]

    def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        with self._sessions() as s:
            rows = s.execute(
                sa.select(outbox).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id).limit(limit)
            )
            return [
                OutboxEntry(
                    LinkEvent(
                        event_id=r.event_id,
                        event_type=EventType(r.event_type),
                        link_id=r.link_id,
                        username=r.owner,
                        url=r.url,
                        title=r.title,
                        timestamp=r.occurred_at,
                        private=r.private,
                    ),
                    r.trace_context,
                )
                for r in rows
            ]

    def outbox_backlog(self) -> tuple[int, datetime | None]:
        waiting = outbox.c.published_at.is_(None)
        with self._sessions() as s:
            count, oldest = s.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.occurred_at)).where(waiting)
            ).one()
        return int(count), oldest

    def mark_published(self, event_ids: list[str], now: datetime) -> None:
        if not event_ids:
            return
        with transaction(self._sessions) as s:
            s.execute(sa.update(outbox).where(outbox.c.event_id.in_(event_ids)).values(published_at=now))

    def purge_published(self, before: datetime) -> int:
        with transaction(self._sessions) as s:
            return _rowcount(
                s.execute(
                    sa.delete(outbox).where(
                        outbox.c.published_at.is_not(None), outbox.c.published_at < before
                    )
                )
            )

    def due_for_check(
        self, checked_before: datetime, pending_before: datetime, limit: int
    ) -> list[CheckRequest]:
        last_seen = sa.func.coalesce(links.c.checked_at, links.c.updated_at)
        stmt = (
            sa.select(links.c.id, links.c.owner, links.c.url)
            .where(
                sa.or_(
                    links.c.checked_at < checked_before,
                    sa.and_(links.c.checked_at.is_(None), links.c.updated_at < pending_before),
                )
            )
            .order_by(last_seen, links.c.id)
            .limit(limit)
        )
        with self._sessions() as s:
            return [CheckRequest(link_id=r.id, username=r.owner, url=r.url) for r in s.execute(stmt)]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _find(s: Session, owner: str, url: str, *, lock: bool) -> StoredLink | None:
        stmt = sa.select(*_LINK_COLUMNS).where(links.c.owner == owner, links.c.url == url)
        if lock:
            stmt = stmt.with_for_update()  # ignored by SQLite, whose writers are serialised anyway
        row = s.execute(stmt).one_or_none()
        return None if row is None else _stored(row)

    @staticmethod
    def _write_tags(s: Session, link_id: int, tags: Sequence[str]) -> None:
        if tags:
            s.execute(sa.insert(link_tags), [{"link_id": link_id, "tag": t} for t in tags])

    @classmethod
    def _record(cls, s: Session, event: LinkEvent) -> None:
        cls._record_many(s, [event])

    @staticmethod
    def _record_many(s: Session, events: list[LinkEvent]) -> None:
        context = tracing.capture()
        rows = [
            {
                "event_id": event.event_id,
                "event_type": event.event_type.value,
                "link_id": event.link_id,
                "owner": event.username,
                "url": event.url,
                "title": event.title,
                "occurred_at": event.timestamp,
                "private": event.private,
                "trace_context": context,
            }
            for event in events
        ]
        if rows:
            s.execute(sa.insert(outbox), rows)
