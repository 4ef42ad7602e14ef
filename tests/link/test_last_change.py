"""When a user's links last changed (what Pinboard's posts/update answers): every add,
update, delete, retag and import moves it, deletions included, and so does a check that
fills an empty title, on every store; a database upgraded from 0003 answers from its
links until their next change."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from delinkcious.bookmarks import ImportEntry
from delinkcious.db import UTCDateTime, create_db_engine, make_sessionmaker
from delinkcious.migrations import upgrade_to_head
from delinkcious.models import LinkCheckResult, LinkFilter, LinkStatus, LinkUpdate, NewLink
from link_service.service import LinkService
from link_service.sql_store import SqlLinkStore
from link_service.transport import MIGRATIONS, VERSION_TABLE
from tests.link.conftest import make_service, migrated_engine
from tests.link.test_migration_0003 import upgrade_to


def now(service: LinkService) -> datetime:
    """The service clock's last reading: the time of the change just made."""
    clock_now: datetime = service._clock.now  # type: ignore[attr-defined]
    return clock_now


def test_every_kind_of_change_moves_it_and_a_delete_does_too(any_store: object) -> None:
    service = make_service(any_store)
    assert service.last_change("alice").changed_at is None

    service.add_link("alice", NewLink(url="https://e.com/a", title="A", tags=["t"]))
    service.add_link("alice", NewLink(url="https://e.com/b", title="B"))
    added = now(service)
    assert service.last_change("alice").changed_at == added

    service.update_link("alice", LinkUpdate(url="https://e.com/a", title="A2"))
    updated = now(service)
    assert updated > added and service.last_change("alice").changed_at == updated

    service.rename_tag("alice", "t", "u")
    renamed = now(service)
    assert renamed > updated and service.last_change("alice").changed_at == renamed

    service.delete_link("alice", "https://e.com/a")
    service.delete_link("alice", "https://e.com/b")
    deleted = now(service)
    # No link is left to read a time from: the deletion's own time is kept.
    assert deleted > renamed and service.last_change("alice").changed_at == deleted

    service.import_links("alice", [ImportEntry(url="https://e.com/c")], None)
    imported = now(service)
    assert imported > deleted and service.last_change("alice").changed_at == imported

    # Another user's changes are their own.
    assert service.last_change("bob").changed_at is None
    service.add_link("bob", NewLink(url="https://e.com/a"))
    assert service.last_change("alice").changed_at == imported


def found(
    service: LinkService, url: str, title: str | None, after_seconds: int = 1, owner: str = "alice"
) -> LinkCheckResult:
    """A check result for the owner's link at `url`, made `after_seconds` after the clock."""
    stored = service._store.get(owner, url)
    assert stored is not None
    return LinkCheckResult(
        link_id=stored.id, username=owner, url=url, status=LinkStatus.VALID, title=title,
        checked_at=now(service) + timedelta(seconds=after_seconds),
    )  # fmt: skip


def test_a_check_that_fills_an_empty_title_moves_it_and_no_other_check_does(any_store: object) -> None:
    """A Pinboard client syncs when posts/update moves: it must see the title the check
    found (its `meta` changes too), and nothing else a check does is a change to it."""
    service = make_service(any_store)
    service.add_link("alice", NewLink(url="https://e.com/untitled"))
    service.add_link("alice", NewLink(url="https://e.com/titled", title="Mine"))
    added = now(service)

    assert service.apply_check(found(service, "https://e.com/titled", "Page"))  # keeps "Mine"
    assert service.apply_check(found(service, "https://e.com/untitled", None))  # found no title
    assert service.apply_check(found(service, "https://e.com/untitled", "  \t"))  # nor a blank one
    assert service.last_change("alice").changed_at == added

    assert service.apply_check(found(service, "https://e.com/untitled", " Found ", after_seconds=2))
    filled = now(service)
    assert filled > added and service.last_change("alice").changed_at == filled
    assert service.list_links("alice", LinkFilter(), 10, "").links[-1].title == "Found"

    # The title is set now: a later check's title changes nothing.
    assert service.apply_check(found(service, "https://e.com/untitled", "Other", after_seconds=3))
    assert service.last_change("alice").changed_at == filled
    # Nor does a result that is not applied.
    service.update_link("alice", LinkUpdate(url="https://e.com/titled", title=""))
    cleared = now(service)
    assert not service.apply_check(found(service, "https://e.com/titled", "Late", after_seconds=-3600))
    assert service.last_change("alice").changed_at == cleared
    assert service.last_change("bob").changed_at is None


def test_a_refused_change_does_not_move_it(any_store: object) -> None:
    service = make_service(any_store, max_links=1)
    service.add_link("alice", NewLink(url="https://e.com/a"))
    added = now(service)
    for refused in (
        lambda: service.add_link("alice", NewLink(url="https://e.com/a")),  # a duplicate
        lambda: service.add_link("alice", NewLink(url="https://e.com/b")),  # over the limit
        lambda: service.delete_link("alice", "https://e.com/nothing"),
    ):
        try:
            refused()
        except Exception:
            pass
        else:
            raise AssertionError("the change was not refused")
    assert service.last_change("alice").changed_at == added


def test_a_user_from_before_the_column_answers_with_the_newest_link(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade_to(engine, "0003")
        newest = datetime(2024, 3, 2, tzinfo=UTC)
        at = sa.bindparam("at", type_=UTCDateTime())
        with engine.begin() as conn:
            for n, day in ((1, 1), (2, 2)):
                conn.execute(
                    sa.text(
                        "INSERT INTO links (owner, url, title, description, tags, status, created_at,"
                        " updated_at) VALUES ('alice', :url, 'T', '', '[]', 'pending', :at, :at)"
                    ).bindparams(at),
                    {"url": f"https://e.com/{n}", "at": datetime(2024, 3, day, tzinfo=UTC)},
                )
            conn.execute(sa.text("INSERT INTO link_quota (owner, link_count) VALUES ('alice', 2)"))
        assert upgrade_to_head(engine, MIGRATIONS, VERSION_TABLE) is True

        service = make_service(SqlLinkStore(make_sessionmaker(engine)))
        assert service.last_change("alice").changed_at == newest
        service.delete_link("alice", "https://e.com/2")
        assert service.last_change("alice").changed_at == now(service)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "edit", ["update", "delete", "rename_tag", "check_filling_the_title", "check_finding_no_title"]
)
def test_an_edit_takes_the_owners_row_before_any_link_row(postgres_url: str, edit: str) -> None:
    """Adds and imports lock the owner's quota row and then links; an edit that locked a
    link and then the quota row could deadlock with an import. While another transaction
    holds the quota row, a waiting edit must hold no link row yet."""
    engine = migrated_engine(postgres_url)
    try:
        service = make_service(SqlLinkStore(make_sessionmaker(engine)))
        service.add_link("carol", NewLink(url="https://e.com/a", tags=["t"]))
        edits = {
            "update": lambda: service.update_link("carol", LinkUpdate(url="https://e.com/a", title="New")),
            "delete": lambda: service.delete_link("carol", "https://e.com/a"),
            "rename_tag": lambda: service.rename_tag("carol", "t", "u"),
            # Its title goes on the link and its time on the quota row.
            "check_filling_the_title": lambda: service.apply_check(
                found(service, "https://e.com/a", "Found", owner="carol")
            ),
            # A result group holds the rows of every result before it: a retag of the
            # owner's links waiting for one of them would otherwise be a deadlock.
            "check_finding_no_title": lambda: service.apply_check(
                found(service, "https://e.com/a", None, owner="carol")
            ),
        }
        with engine.connect() as holder:
            holder.exec_driver_sql("SELECT * FROM link_quota WHERE owner = 'carol' FOR UPDATE")
            failures: list[BaseException] = []

            def run_edit() -> None:
                try:
                    edits[edit]()
                except BaseException as exc:
                    failures.append(exc)

            worker = threading.Thread(target=run_edit)
            worker.start()
            with engine.connect() as probe:
                deadline = time.monotonic() + 10
                while not probe.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted").scalar():
                    assert time.monotonic() < deadline, "the edit never waited for the quota row"
                    time.sleep(0.02)
                probe.rollback()
                # NOWAIT: refused at once (55P03) if the waiting edit already holds the link.
                probe.exec_driver_sql("SELECT id FROM links WHERE owner = 'carol' FOR UPDATE NOWAIT").all()
                probe.rollback()
            holder.rollback()
            worker.join(timeout=30)
        assert not worker.is_alive() and failures == []  # the edit went through once the row was free
    finally:
        engine.dispose()
