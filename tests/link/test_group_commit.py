"""SQLite saves arriving together share a transaction, each in its own savepoint."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from delinkcious.db import make_sessionmaker
from delinkcious.errors import AlreadyExists
from link_service.group_commit import GroupCommitter
from link_service.sql_store import SqlLinkStore
from link_service.store import pending_link
from tests.link.conftest import migrated_engine

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return migrated_engine(f"sqlite:///{tmp_path / 'links.db'}")


def test_one_failing_write_undoes_only_its_own_changes(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    group = GroupCommitter(make_sessionmaker(engine))
    entered = threading.Event()
    release = threading.Event()

    def slow(s: Session) -> int:
        s.execute(sa.text("INSERT INTO t VALUES (1)"))
        entered.set()
        release.wait(5)
        return 1

    def failing(s: Session) -> int:
        s.execute(sa.text("INSERT INTO t VALUES (2)"))
        raise ValueError("refused")

    def fine(s: Session) -> int:
        s.execute(sa.text("INSERT INTO t VALUES (3)"))
        return 3

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(group.run, slow)
        assert entered.wait(5)
        # These queue behind the leader's open transaction and then share the next one.
        second, third = pool.submit(group.run, failing), pool.submit(group.run, fine)
        release.set()
        assert first.result() == 1
        with pytest.raises(ValueError, match="refused"):
            second.result()
        assert third.result() == 3
    with engine.connect() as conn:
        assert sorted(conn.exec_driver_sql("SELECT x FROM t").scalars()) == [1, 3]


def test_concurrent_saves_share_commits_and_each_keeps_its_event(engine: sa.Engine) -> None:
    store = SqlLinkStore(make_sessionmaker(engine))
    commits: list[int] = []
    sa.event.listen(engine, "commit", lambda _conn: commits.append(1))
    urls = [f"https://example.com/{i % 40}" for i in range(48)]  # 8 duplicates

    def save(url: str) -> str:
        try:
            store.add("alice", pending_link(url, "", "", ["t"], NOW), 1000)
            return "saved"
        except AlreadyExists:
            return "duplicate"

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(save, urls))
    assert outcomes.count("saved") == 40 and outcomes.count("duplicate") == 8
    assert len(commits) < 40  # saves shared transactions
    events = store.pending_events(100)
    assert sorted(e.url for e in events) == sorted(set(urls))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT link_count FROM link_quota").scalar_one() == 40
        assert conn.exec_driver_sql("SELECT count(*) FROM link_tags").scalar_one() == 40
