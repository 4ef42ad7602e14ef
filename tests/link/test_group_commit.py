"""SQLite saves arriving together share a transaction, each in its own savepoint."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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


@pytest.fixture
def table(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    return engine


def rows(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.exec_driver_sql("SELECT x FROM t").scalars())


class Held:
    """A write that inserts `x` and then holds its batch open until released."""

    def __init__(self, x: int) -> None:
        self.x = x
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, s: Session) -> int:
        s.execute(sa.text("INSERT INTO t VALUES (:x)"), {"x": self.x})
        self.entered.set()
        self.release.wait(10)
        return self.x


def wait_queued(group: GroupCommitter, count: int) -> None:
    """Until `count` writes wait for a batch: a write's caller has no signal of its own
    between queueing and its batch, so the committer's queue is watched."""
    deadline = time.monotonic() + 5
    while len(group._waiting) != count:
        assert time.monotonic() < deadline, f"{len(group._waiting)} writes queued, not {count}"
        time.sleep(0.001)


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


def test_first_leader_returns_once_its_batch_commits_while_writes_keep_coming(
    table: sa.Engine,
) -> None:
    group = GroupCommitter(make_sessionmaker(table))
    held = [Held(x) for x in range(3)]
    with ThreadPoolExecutor(3) as pool:
        try:
            first = pool.submit(group.run, held[0])
            assert held[0].entered.wait(5)
            second = pool.submit(group.run, held[1])
            wait_queued(group, 1)
            held[0].release.set()
            # The second batch is held open: a leader still committing batches while
            # writes keep arriving would not answer here.
            assert first.result(timeout=5) == 0
            assert held[1].entered.wait(5)
            third = pool.submit(group.run, held[2])
            wait_queued(group, 1)
            assert not second.done()
            held[1].release.set()
            assert second.result(timeout=5) == 1
            held[2].release.set()
            assert third.result(timeout=5) == 2
        finally:
            for write in held:
                write.release.set()
    assert rows(table) == [0, 1, 2]


def test_handed_off_leader_commits_the_rest_and_each_caller_gets_its_own_result(
    table: sa.Engine,
) -> None:
    group = GroupCommitter(make_sessionmaker(table))
    commits: list[int] = []
    sa.event.listen(table, "commit", lambda _conn: commits.append(1))
    callers: dict[int, int] = {}
    ran_on: dict[int, int] = {}

    def work(x: int) -> Callable[[Session], int]:
        def insert(s: Session) -> int:
            ran_on[x] = threading.get_ident()
            s.execute(sa.text("INSERT INTO t VALUES (:x)"), {"x": x})
            if x == 4:
                raise ValueError("refused 4")
            return x * 10

        return insert

    def call(x: int, write: Callable[[Session], int]) -> int:
        callers[x] = threading.get_ident()
        return group.run(write)

    first_write = Held(0)
    with ThreadPoolExecutor(9) as pool:
        try:
            first = pool.submit(call, 0, first_write)
            assert first_write.entered.wait(5)
            queued: list[Future[int]] = []
            for x in range(1, 9):  # one at a time, so the oldest waiter is known
                queued.append(pool.submit(call, x, work(x)))
                wait_queued(group, x)
        finally:
            first_write.release.set()
        assert first.result(timeout=5) == 0
        for x, future in enumerate(queued, start=1):
            if x == 4:
                with pytest.raises(ValueError, match="refused 4"):
                    future.result(timeout=5)
            else:
                assert future.result(timeout=5) == x * 10
    # The oldest waiter took the lead and ran the rest in one transaction.
    assert callers[1] != callers[0]
    assert {ran_on[x] for x in range(1, 9)} == {callers[1]}
    assert len(commits) == 2
    assert rows(table) == [0, 1, 2, 3, 5, 6, 7, 8]


def test_many_writers_each_get_their_own_result_and_every_row_lands_once(
    table: sa.Engine,
) -> None:
    group = GroupCommitter(make_sessionmaker(table))
    writers, writes_each = 16, 50
    batch_numbers = itertools.count()
    # Per write: its batch, the thread that ran it, the thread that asked for it.
    ran: list[tuple[int, int, int]] = []

    def write(n: int, caller: int) -> Callable[[Session], int]:
        def insert(s: Session) -> int:
            if "batch" not in s.info:
                s.info["batch"] = next(batch_numbers)
            ran.append((s.info["batch"], threading.get_ident(), caller))
            s.execute(sa.text("INSERT INTO t VALUES (:x)"), {"x": n})
            return n

        return insert

    def writer(w: int) -> list[int]:
        me = threading.get_ident()
        return [group.run(write(w * writes_each + i, me)) for i in range(writes_each)]

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(writer, range(writers)))
    assert results == [list(range(w * writes_each, (w + 1) * writes_each)) for w in range(writers)]
    assert rows(table) == list(range(writers * writes_each))
    # Each batch ran on the thread of one of its own writers: no caller was kept
    # leading after its write committed.
    askers: dict[int, set[int]] = {}
    runners: dict[int, set[int]] = {}
    for batch, runner, caller in ran:
        askers.setdefault(batch, set()).add(caller)
        runners.setdefault(batch, set()).add(runner)
    for batch, runner_threads in runners.items():
        assert len(runner_threads) == 1 and runner_threads <= askers[batch]
    assert len(askers) < writers * writes_each  # writes still shared transactions


class Interrupt(BaseException):
    """Stands for a KeyboardInterrupt or SystemExit raised on the leader's thread."""


class HeldThenInterrupted(Held):
    def __call__(self, s: Session) -> int:
        super().__call__(s)
        raise Interrupt


def test_an_interrupted_leader_fails_its_batch_and_passes_the_lead_on(table: sa.Engine) -> None:
    group = GroupCommitter(make_sessionmaker(table))
    first, interrupted = Held(0), HeldThenInterrupted(1)
    with ThreadPoolExecutor(4) as pool:
        try:
            answers = [pool.submit(group.run, first)]
            assert first.entered.wait(5)
            answers.append(pool.submit(group.run, interrupted))
            wait_queued(group, 1)
            answers.append(pool.submit(group.run, Held(2)))  # shares the interrupted batch
            wait_queued(group, 2)
            first.release.set()
            assert interrupted.entered.wait(5)
            after = Held(3)
            after.release.set()
            answers.append(pool.submit(group.run, after))
            wait_queued(group, 1)
        finally:
            first.release.set()
            interrupted.release.set()
        assert answers[0].result(timeout=5) == 0
        for answer in answers[1:3]:
            with pytest.raises(Interrupt):
                answer.result(timeout=5)
        # Queued behind the interrupted batch, it still gets a leader.
        assert answers[3].result(timeout=5) == 3
    assert rows(table) == [0, 3]
