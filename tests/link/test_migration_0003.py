"""Upgrading a database that 0002 left, with links and unpublished events in it: the
links survive, become public, list newest created_at first, and the waiting events
still decode. On Postgres and SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from delinkcious.db import UTCDateTime, create_db_engine, make_sessionmaker
from delinkcious.migrations import upgrade_to_head
from delinkcious.models import LinkFilter, LinkUpdate
from link_service.sql_store import SqlLinkStore
from link_service.transport import MIGRATIONS, VERSION_TABLE
from tests.link.conftest import make_service

BASE = datetime(2024, 3, 1, tzinfo=UTC)
# Bound as the release that wrote the rows bound them (SQLite keeps datetimes as text).
AT = sa.bindparam("at", type_=UTCDateTime())


def upgrade_to(engine: sa.Engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["version_table"] = VERSION_TABLE
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_upgrade_from_0002_keeps_links_and_orders_them_by_created_at(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade_to(engine, "0002")
        # Saved in id order 1, 2, 3, but created on days 2, 0 and 1 (as an older
        # release could not have, but as the order must handle).
        days = {1: 2, 2: 0, 3: 1}
        with engine.begin() as conn:
            for link_id, day in days.items():
                at = BASE + timedelta(days=day)
                conn.execute(
                    sa.text(
                        "INSERT INTO links (id, owner, url, title, description, tags, status,"
                        " created_at, updated_at) VALUES (:id, 'alice', :url, 'T', '', :tags,"
                        " 'pending', :at, :at)"
                    ).bindparams(AT),
                    {"id": link_id, "url": f"https://e.com/{link_id}", "tags": json.dumps(["t"]), "at": at},
                )
                conn.execute(
                    sa.text("INSERT INTO link_tags (link_id, tag) VALUES (:id, 't')"), {"id": link_id}
                )
            conn.execute(sa.text("INSERT INTO link_quota (owner, link_count) VALUES ('alice', 3)"))
            conn.execute(
                sa.text(
                    "INSERT INTO outbox (event_id, event_type, link_id, owner, url, title, occurred_at)"
                    " VALUES ('00000000-0000-0000-0000-000000000001', 'link_added', 1, 'alice',"
                    " 'https://e.com/1', 'T', :at)"
                ).bindparams(AT),
                {"at": BASE},
            )

        assert upgrade_to_head(engine, MIGRATIONS, VERSION_TABLE) is True

        store = SqlLinkStore(make_sessionmaker(engine))
        service = make_service(store)
        page = service.list_links("alice", LinkFilter(), 2, "")
        rest = service.list_links("alice", LinkFilter(), 2, page.next_page_token)
        listed = page.links + rest.links
        assert [link.url for link in listed] == ["https://e.com/1", "https://e.com/3", "https://e.com/2"]
        assert all(link.private is False and link.tags == ["t"] for link in listed)
        (event,) = store.pending_events(10)
        assert (event.url, event.private) == ("https://e.com/1", False)
        # Writes after the upgrade work on the old rows.
        service.update_link("alice", LinkUpdate(url="https://e.com/2", private=True))
        assert [link.url for link in service.list_links("alice", LinkFilter(private=True), 10).links] == [
            "https://e.com/2"
        ]
    finally:
        engine.dispose()
