"""Check results arriving together share a transaction, on Postgres as on SQLite: a
checker's burst of results costs one commit, not one each."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from delinkcious.db import make_sessionmaker
from delinkcious.models import LinkCheckResult, LinkStatus
from link_service.sql_store import SqlLinkStore
from link_service.store import pending_link
from tests.link.conftest import migrated_engine

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_results_arriving_together_are_applied_in_one_commit(
    request: pytest.FixtureRequest, database: str
) -> None:
    engine = migrated_engine(request.getfixturevalue(f"{database}_url"))
    store = SqlLinkStore(make_sessionmaker(engine))
    urls = [f"https://e.com/{i}" for i in range(10)]
    ids = [store.add("alice", pending_link(url, "", "", [], NOW), 100).id for url in urls]

    commits = 0
    first_update = threading.Event()
    go = threading.Event()

    @sa.event.listens_for(engine, "commit")
    def _count(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _hold_the_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The first result's transaction stays open until the others are queued.
        if statement.startswith("UPDATE links") and not first_update.is_set():
            first_update.set()
            go.wait(10)

    def result(i: int) -> LinkCheckResult:
        return LinkCheckResult(
            link_id=ids[i], username="alice", url=urls[i], status=LinkStatus.VALID,
            title=f"Page {i}", checked_at=NOW + timedelta(seconds=1),
        )  # fmt: skip

    entered = threading.Semaphore(0)

    def apply(i: int) -> bool:
        entered.release()
        return store.apply_check(result(i))

    try:
        with ThreadPoolExecutor(10) as pool:
            answers = [pool.submit(apply, 0)]
            assert first_update.wait(10)
            answers += [pool.submit(apply, i) for i in range(1, 10)]
            for _ in range(10):
                assert entered.acquire(timeout=10)
            # From apply_check's start to a place in the queue is microseconds; a write
            # with a transaction of its own would have committed by now.
            time.sleep(0.3)
            go.set()
            assert [a.result(timeout=10) for a in answers] == [True] * 10
        assert commits == 2
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, title FROM links ORDER BY id")).all()
        assert rows == [("valid", f"Page {i}") for i in range(10)]
    finally:
        go.set()
        engine.dispose()
