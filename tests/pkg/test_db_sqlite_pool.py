"""SQLite engines: pooled connections opened once, reads that run beside a held write
lock, writes and readiness pings that still wait for it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from delinkcious.db import PING_LOCK_WAIT_SECONDS, create_db_engine, ping, read_only


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "pool.db"


@pytest.fixture
def engine(path: Path) -> Iterator[sa.Engine]:
    engine = create_db_engine(f"sqlite:///{path}?timeout=0.5")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    yield engine
    engine.dispose()


@pytest.fixture
def write_locked(path: Path) -> Iterator[sqlite3.Connection]:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (2)")  # not committed: readers must not see it
    yield holder
    holder.rollback()
    holder.close()


def test_connections_are_opened_once_and_reused(engine: sa.Engine) -> None:
    opened: list[object] = []
    sa.event.listen(engine, "connect", lambda conn, _record: opened.append(conn))
    for _ in range(5):
        with read_only(engine).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT 1"))
    assert len(opened) <= 1


def test_reads_run_beside_a_held_write_lock(engine: sa.Engine, write_locked: sqlite3.Connection) -> None:
    started = time.monotonic()
    with read_only(engine).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 1
    assert time.monotonic() - started < 0.4  # it did not wait out the busy timeout


def test_writes_still_wait_for_the_lock_and_fail_past_the_busy_timeout(
    engine: sa.Engine, write_locked: sqlite3.Connection
) -> None:
    started = time.monotonic()
    with pytest.raises(sa.exc.OperationalError, match="database is locked"), engine.begin() as conn:
        conn.execute(sa.text("SELECT count(*) FROM t"))  # a default transaction takes the write lock
    assert time.monotonic() - started >= 0.45


def test_a_read_transaction_keeps_its_snapshot(engine: sa.Engine) -> None:
    with read_only(engine).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 1
        with engine.begin() as writer:
            writer.exec_driver_sql("INSERT INTO t VALUES (3)")
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 1
    with read_only(engine).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 2


def test_a_ping_fails_on_a_locked_file_and_leaves_the_pooled_connection_its_full_wait(path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{path}?timeout=5")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                ping(engine)
            assert time.monotonic() - started < PING_LOCK_WAIT_SECONDS + 1
        finally:
            holder.rollback()
            holder.close()
        ping(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 5000
    finally:
        engine.dispose()
