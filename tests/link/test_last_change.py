"""When a user's links last changed (what Pinboard's posts/update answers): every add,
update, delete, retag and import moves it, deletions included, on every store; a
database upgraded from 0003 answers from its links until their next change."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from delinkcious.bookmarks import ImportEntry
from delinkcious.db import UTCDateTime, create_db_engine, make_sessionmaker
from delinkcious.migrations import upgrade_to_head
from delinkcious.models import LinkUpdate, NewLink
from link_service.service import LinkService
from link_service.sql_store import SqlLinkStore
from link_service.transport import MIGRATIONS, VERSION_TABLE
from tests.link.conftest import make_service
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
