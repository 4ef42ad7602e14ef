"""link-manager's SQL store (Postgres in production, SQLite locally)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from delinkcious import tracing
from delinkcious.db import is_bad_regex_error, reader_of, regex_match, transaction
from delinkcious.errors import AlreadyExists, InvalidArgument, LimitExceeded, NotFound
from delinkcious.models import CheckRequest, EventType, Link, LinkCheckResult, LinkEvent, TagCount
from delinkcious.timeutil import utcnow
from link_service.bulk import ImportItem, Outcome
from link_service.group_commit import GroupCommitter
from link_service.sql_rows import LINK_COLUMNS as _LINK_COLUMNS
from link_service.sql_rows import link_row
from link_service.sql_rows import stored as _stored
from link_service.sql_tags import count_tag, retag_links
from link_service.store import (
    LinkChange,
    LinkQuery,
    OutboxEntry,
    Retagged,
    StoredLink,
    checked_title,
    new_event,
)
from link_service.tables import link_quota, link_tags, links, outbox

T = TypeVar("T")


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def _insert(session: Session, table: sa.Table) -> Any:
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


class SqlLinkStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        bind = sessions.kw["bind"]
        assert isinstance(bind, Engine)
        # Reads run on plain connections of a read-only engine: no ORM session, and on
        # SQLite a deferred transaction that runs alongside the writer.
        self._reader = reader_of(sessions)
        self._group = GroupCommitter(sessions) if bind.dialect.name == "sqlite" else None
        # Check results come in bursts (checks started together end together) and
        # nobody waits on them: on Postgres too those arriving together share one
        # transaction, one commit instead of one each.
        self._results = self._group or GroupCommitter(sessions)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._reader.connect() as conn:
            yield conn

    # ------------------------------------------------------------------ writes

    def add(self, owner: str, link: Link, max_links: int) -> StoredLink:
        context = tracing.capture()  # here: the write may run on another thread
        try:
            return self._write(lambda s: self._add(s, owner, link, max_links, context))
        except IntegrityError:
            # Lost a race with an add of the same URL; its changes rolled back.
            raise AlreadyExists(f"a link with url {link.url} already exists") from None

    def _add(self, s: Session, owner: str, link: Link, max_links: int, context: str | None) -> StoredLink:
        # Statements built once, run on the session's connection: SQLite runs every save
        # on one writer, so what each costs in Python is the saves' throughput.
        conn = s.connection()
        if self._find(conn, owner, link.url, lock=False) is not None:
            raise AlreadyExists(f"a link with url {link.url} already exists")
        conn.execute(_quota_row(conn.dialect.name), {"owner": owner})
        # Atomic check-and-increment: concurrent adds queue on this row's lock,
        # and each re-reads the count the previous one committed.
        if _rowcount(conn.execute(_TAKE_QUOTA, {"quota_owner": owner, "max_links": max_links})) == 0:
            raise LimitExceeded(f"a user has at most {max_links} links")
        link_id = conn.execute(_INSERT_LINK, link_row(owner, link)).scalar_one()
        self._write_tags(conn, link_id, link.tags)
        stored = StoredLink(link_id, owner, link)
        # The event happens when the link is saved, whatever created_at an import gave.
        self._record_many(conn, [new_event(EventType.LINK_ADDED, stored, link.updated_at)], context)
        return stored

    def _write(self, work: Callable[[Session], T]) -> T:
        """`work` in a write transaction: its own on Postgres, where writers run
        concurrently; on SQLite, shared with the writes arriving meanwhile."""
        if self._group is not None:
            return self._group.run(work)
        with transaction(self._sessions) as s:
            return work(s)

    def update(self, owner: str, url: str, change: LinkChange, now: datetime) -> StoredLink:
        with transaction(self._sessions) as s:
            lock_owner(s, owner)
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
            lock_owner(s, owner)
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
            lock_owner(s, owner)
            events = retag_links(s, owner, old, new, now)
            self._record_many(s, events, tracing.capture())
            carrying = count_tag(s, owner, new) if new is not None and events else 0
            return Retagged(len(events), carrying)

    def apply_check(self, result: LinkCheckResult, now: datetime | None = None) -> bool:
        values = {
            "check_id": result.link_id,
            "check_owner": result.username,
            "check_url": result.url,
            "check_at": result.checked_at,
            "check_status": result.status.value,
            "check_title": checked_title(result),
        }
        changed = now or utcnow()
        return self._results.run(lambda s: _apply_check(s, values, changed))

    # ------------------------------------------------------------------ bulk import

    def import_batch(
        self, owner: str, items: Sequence[ImportItem], max_links: int, now: datetime
    ) -> list[Outcome | str]:
        from link_service import sql_bulk  # which builds on this module's helpers

        return sql_bulk.import_batch(self._sessions, owner, items, max_links, now)

    # ------------------------------------------------------------------ reads

    def get(self, owner: str, url: str) -> StoredLink | None:
        with self._reading() as conn:
            return self._find(conn, owner, url, lock=False)

    def tag_counts(self, owner: str) -> list[TagCount]:
        stmt = (
            sa.select(link_tags.c.tag, sa.func.count())
            .join(links, links.c.id == link_tags.c.link_id)
            .where(links.c.owner == owner)
            .group_by(link_tags.c.tag)
        )
        with self._reading() as conn:
            counts = conn.execute(stmt).all()
        # Sorted here, by code point as link tags are, not by the database's collation.
        return [TagCount(name=tag, count=count) for tag, count in sorted(counts)]

    def last_change(self, owner: str) -> datetime | None:
        with self._reading() as conn:
            changed: datetime | None = conn.execute(_LAST_CHANGE, {"owner": owner}).scalar()
            if changed is None:
                changed = conn.execute(_NEWEST_UPDATE, {"owner": owner}).scalar()
        return changed

    def find(self, query: LinkQuery) -> list[StoredLink]:
        stmt = _find_statement(
            query.after is not None,
            query.private is not None,
            query.url_regex is not None,
            query.title_regex is not None,
            query.description_regex is not None,
            len(query.tags),
        )
        params: dict[str, Any] = {"owner": query.owner, "limit": query.limit}
        if query.after is not None:
            params["after_at"], params["after_id"] = query.after
        if query.private is not None:
            params["private"] = query.private
        for name in ("url_regex", "title_regex", "description_regex"):
            pattern = getattr(query, name)
            if pattern is not None:
                params[name] = pattern
        for i, tag in enumerate(query.tags):
            params[f"tag_{i}"] = tag
        try:
            with self._reading() as conn:
                rows = conn.execute(stmt, params).all()  # one fetchall, not a fetch per row
            return [_stored(row) for row in rows]
        except DBAPIError as exc:
            if is_bad_regex_error(exc):
                raise InvalidArgument("a regex filter is not a valid regular expression") from None
            raise

    # ------------------------------------------------------------------ outbox

    def pending_events(self, limit: int) -> list[LinkEvent]:
        return [entry.event for entry in self.pending_outbox(limit)]

    def pending_outbox(self, limit: int) -> list[OutboxEntry]:
        with self._reading() as conn:
            rows = conn.execute(
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
        with self._reading() as conn:
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.occurred_at)).where(waiting)
            ).one()
        return int(count), oldest

    def mark_published(self, event_ids: list[str], now: datetime) -> None:
        if not event_ids:
            return
        published = sa.update(outbox).where(outbox.c.event_id.in_(event_ids)).values(published_at=now)
        self._write(lambda s: s.execute(published))

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
        with self._reading() as conn:
            return [CheckRequest(link_id=r.id, username=r.owner, url=r.url) for r in conn.execute(stmt)]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _find(s: Session | Connection, owner: str, url: str, *, lock: bool) -> StoredLink | None:
        row = s.execute(_FIND_LOCKED if lock else _FIND, {"owner": owner, "url": url}).one_or_none()
        return None if row is None else _stored(row)

    @staticmethod
    def _write_tags(s: Session | Connection, link_id: int, tags: Sequence[str]) -> None:
        if tags:
            s.execute(_INSERT_TAG, [{"link_id": link_id, "tag": t} for t in tags])

    @classmethod
    def _record(cls, s: Session, event: LinkEvent) -> None:
        cls._record_many(s, [event], tracing.capture())

    @staticmethod
    def _record_many(s: Session | Connection, events: list[LinkEvent], context: str | None) -> None:
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
            s.execute(_INSERT_EVENT, rows)
            mark_changed(s, events)


@lru_cache(maxsize=256)
def _find_statement(
    after: bool, private: bool, url_regex: bool, title_regex: bool, description_regex: bool, tags: int
) -> sa.Select[Any]:
    """A list query's statement for one shape of filters, with its values as bound
    parameters: built once per shape, so SQLAlchemy's compiled cache hits without
    rebuilding the statement and its cache key on every request."""
    stmt = sa.select(*_LINK_COLUMNS).where(links.c.owner == sa.bindparam("owner"))
    if after:
        created_at = sa.bindparam("after_at", type_=links.c.created_at.type)
        link_id = sa.bindparam("after_id", type_=links.c.id.type)
        # Spelled out rather than as a row comparison, which SQLite's planner
        # cannot turn into an index range; the leading term bounds the scan.
        stmt = stmt.where(
            links.c.created_at <= created_at,
            sa.or_(
                links.c.created_at < created_at,
                sa.and_(links.c.created_at == created_at, links.c.id < link_id),
            ),
        )
    if private:
        stmt = stmt.where(links.c.private == sa.bindparam("private"))
    for column, name, wanted in (
        (links.c.url, "url_regex", url_regex),
        (links.c.title, "title_regex", title_regex),
        (links.c.description, "description_regex", description_regex),
    ):
        if wanted:
            stmt = stmt.where(regex_match(column, sa.bindparam(name, type_=sa.String)))
    for i in range(tags):
        tagged = link_tags.c.link_id == links.c.id, link_tags.c.tag == sa.bindparam(f"tag_{i}")
        stmt = stmt.where(sa.exists().where(*tagged))
    return stmt.order_by(links.c.created_at.desc(), links.c.id.desc()).limit(sa.bindparam("limit"))


_FIND = sa.select(*_LINK_COLUMNS).where(
    links.c.owner == sa.bindparam("owner"), links.c.url == sa.bindparam("url")
)
_FIND_LOCKED = _FIND.with_for_update()  # ignored by SQLite, whose writers are serialised anyway
_TAKE_QUOTA = (
    sa.update(link_quota)
    .where(
        link_quota.c.owner == sa.bindparam("quota_owner"), link_quota.c.link_count < sa.bindparam("max_links")
    )
    .values(link_count=link_quota.c.link_count + 1)
)
_INSERT_LINK = sa.insert(links).returning(links.c.id)
_INSERT_TAG = sa.insert(link_tags)
_INSERT_EVENT = sa.insert(outbox)
_MARK_CHANGED = (
    sa.update(link_quota)
    .where(
        link_quota.c.owner == sa.bindparam("changed_owner"),
        sa.or_(link_quota.c.changed_at.is_(None), link_quota.c.changed_at < sa.bindparam("changed")),
    )
    .values(changed_at=sa.bindparam("changed"))
)
# A check result, applied only to the link it was made for and only if newer than
# the last applied; a title found by the check fills an empty one, never replaces one.
# Built once: every saved link gets one, and building the statement was a fifth of
# the time link-manager spent applying them.
_CHECK_APPLIES = (
    # The id pins the incarnation: a link deleted and re-added has a new id.
    links.c.id == sa.bindparam("check_id"),
    links.c.owner == sa.bindparam("check_owner"),
    links.c.url == sa.bindparam("check_url"),
    sa.or_(links.c.checked_at.is_(None), links.c.checked_at < sa.bindparam("check_at")),
)
_APPLY_CHECK = (
    sa.update(links)
    .where(*_CHECK_APPLIES)
    .values(
        status=sa.bindparam("check_status"),
        checked_at=sa.bindparam("check_at"),
        title=sa.case(
            (links.c.title == "", sa.bindparam("check_title", type_=links.c.title.type)), else_=links.c.title
        ),
    )
)
_LOCK_OWNER = (
    sa.select(link_quota.c.owner).where(link_quota.c.owner == sa.bindparam("owner")).with_for_update()
)
_LAST_CHANGE = sa.select(link_quota.c.changed_at).where(link_quota.c.owner == sa.bindparam("owner"))
# Owners whose quota row predates changed_at: their newest link's change.
_NEWEST_UPDATE = sa.select(sa.func.max(links.c.updated_at)).where(links.c.owner == sa.bindparam("owner"))


# The title of the link a check result is for, if the result is still to be applied.
_CHECKED_TITLE = sa.select(links.c.title).where(*_CHECK_APPLIES)


def _apply_check(s: Session, values: dict[str, Any], now: datetime) -> bool:
    """A result takes the owner's row lock first, as every other write of the owner's
    links does: a result group that locked a link row and then waited for another
    could otherwise deadlock with a retag holding that one and waiting for the first,
    and the retag could be the one refused. A result that fills the link's empty
    title changes the link as an edit does, so it moves the owner's changed_at too
    (Pinboard clients sync on it); whether it will is read under that lock, so no
    edit of the title slips in between. Two link-manager replicas applying results of
    the same two owners in opposite orders can still deadlock on those rows: Postgres
    fails one statement, and that result alone is rolled back (its savepoint) and
    redelivered."""
    lock_owner(s, values["check_owner"])
    fills = bool(values["check_title"]) and s.execute(_CHECKED_TITLE, values).scalar() == ""
    if not _rowcount(s.execute(_APPLY_CHECK, values)):
        return False
    if fills:
        s.execute(_MARK_CHANGED, {"changed_owner": values["check_owner"], "changed": now})
    return True


def lock_owner(s: Session, owner: str) -> None:
    """Takes the owner's quota row first, as adds and imports do: every write of one
    owner's links locks it before any link row (and writes it: changed_at), so no two
    of them wait on each other's rows in opposite orders. Postgres only: SQLite's
    writers are serialised by its write lock, and the SELECT would only cost a statement."""
    if s.get_bind().dialect.name != "sqlite":
        s.execute(_LOCK_OWNER, {"owner": owner})


def mark_changed(s: Session | Connection, events: Sequence[LinkEvent]) -> None:
    """Moves each owner's changed_at to their newest event, in the events' transaction
    (on the quota row, which every owner with links has)."""
    newest: dict[str, datetime] = {}
    for event in events:
        if event.username not in newest or newest[event.username] < event.timestamp:
            newest[event.username] = event.timestamp
    s.execute(_MARK_CHANGED, [{"changed_owner": owner, "changed": at} for owner, at in newest.items()])


@lru_cache(maxsize=4)
def _quota_row(dialect: str) -> Any:
    """Creates the owner's quota row if missing (each dialect spells it its own way)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(link_quota).values(link_count=0).on_conflict_do_nothing()
