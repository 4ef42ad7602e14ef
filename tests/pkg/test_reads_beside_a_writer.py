"""On SQLite the pure reads of user-manager's and social-graph-manager's stores run in
a deferred transaction beside a held write lock: a token validation or a follower page
neither waits for nor is refused by a writer. The engines' busy timeout is 0.2 s, so a
read that took the write lock fails with "database is locked" instead of answering."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from delinkcious.db import create_db_engine, make_sessionmaker
from delinkcious.migrations import upgrade_to_head
from social_graph_service.sql_store import SqlSocialGraphStore
from social_graph_service.transport import MIGRATIONS as GRAPH_MIGRATIONS
from social_graph_service.transport import VERSION_TABLE as GRAPH_VERSION_TABLE
from tests.user.helpers import MIGRATIONS as USER_MIGRATIONS
from tests.user.helpers import VERSION_TABLE as USER_VERSION_TABLE
from tests.user.helpers import identity
from user_service.service import UserService
from user_service.sql_store import SqlUserStore

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _engine(path: Path, migrations: Path, version_table: str) -> sa.Engine:
    engine = create_db_engine(f"sqlite:///{path}?timeout=0.2")
    upgrade_to_head(engine, migrations, version_table)
    return engine


def _write_locked(path: Path) -> Iterator[sqlite3.Connection]:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield holder
    holder.rollback()
    holder.close()


Opener = Callable[[Path, str], tuple[sa.Engine, Path]]


@pytest.fixture
def migrated(tmp_path: Path) -> Iterator[Opener]:
    """Opens a migrated SQLite file of the service whose migrations are given."""
    opened: list[sa.Engine] = []

    def open_database(migrations: Path, version_table: str) -> tuple[sa.Engine, Path]:
        path = tmp_path / f"{version_table}.db"
        opened.append(_engine(path, migrations, version_table))
        return opened[-1], path

    yield open_database
    for engine in opened:
        engine.dispose()


def test_follower_reads_answer_while_another_connection_holds_the_write_lock(migrated: Opener) -> None:
    engine, path = migrated(GRAPH_MIGRATIONS, GRAPH_VERSION_TABLE)
    store = SqlSocialGraphStore(make_sessionmaker(engine))
    store.follow("alice", "bob", NOW)
    for holder in _write_locked(path):
        holder.execute("INSERT INTO follows VALUES ('carol', 'bob', '2026-01-02 03:04:05.000000')")
        # The uncommitted follow is not seen: each read has its snapshot.
        assert store.followers_after("bob", None, 10) == ["alice"]
        assert store.followers("bob") == ["alice"]
        assert store.following("alice") == ["bob"]
        # A write still waits for the lock, and past the busy timeout gives up.
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            store.follow("dave", "bob", NOW)


def test_token_and_user_reads_answer_while_another_connection_holds_the_write_lock(migrated: Opener) -> None:
    engine, path = migrated(USER_MIGRATIONS, USER_VERSION_TABLE)
    store = SqlUserStore(make_sessionmaker(engine))
    service = UserService(store, timedelta(hours=1), clock=lambda: NOW)
    service.login(identity("alice"))
    issued = service.issue_token("alice")
    for _ in _write_locked(path):
        assert service.validate_token(issued.access_token).username == "alice"
        user = store.get_user("alice")
        assert user is not None and user.username == "alice"
        assert store.list_api_tokens("alice") == []
        assert store.get_api_token("no-such-hash") is None
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            service.issue_token("alice")
