"""Which real driver errors are outages (a 503) and which are bugs (a 500): each error
here is produced by the real driver against a real server, a closed port or a real
SQLite file, never constructed by hand."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import nats
import psycopg2
import pytest
import redis
import sqlalchemy as sa

from delinkcious.db import create_db_engine
from delinkcious.events import EventBus
from delinkcious.grpcutil import status_for
from delinkcious.outages import DATABASE, NATS, REDIS, dependency_of, unavailable_for
from tests.servers import NatsServer, free_port


def raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


def execute(engine: sa.Engine, *statements: str) -> Callable[[], object]:
    """Runs the statements in one transaction."""

    def run() -> None:
        with engine.begin() as conn:
            for sql in statements:
                conn.exec_driver_sql(sql)

    return run


@pytest.fixture
def pg(postgres_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(postgres_url)
    execute(engine, "CREATE TABLE t (id int PRIMARY KEY)")()
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "outage.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return path


def test_a_postgres_connection_terminated_by_the_server_is_an_outage(pg: sa.Engine) -> None:
    error = raised(execute(pg, "SELECT pg_terminate_backend(pg_backend_pid())"))
    assert isinstance(error, sa.exc.OperationalError) and error.connection_invalidated
    assert dependency_of(error) == DATABASE
    # The engine drops the dead connection and recovers by itself.
    execute(pg, "SELECT 1")()


def test_postgres_refusing_connections_is_an_outage() -> None:
    engine = create_db_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    error = raised(execute(engine, "SELECT 1"))
    assert isinstance(error, sa.exc.OperationalError) and isinstance(error.orig, psycopg2.OperationalError)
    assert error.orig.pgcode is None  # libpq's own failure: no SQLSTATE
    assert dependency_of(error) == DATABASE
    # The raw driver error too, without SQLAlchemy around it.
    raw = raised(lambda: psycopg2.connect(host="127.0.0.1", port=free_port(), connect_timeout=2))
    assert dependency_of(raw) == DATABASE


def test_a_postgres_database_closed_to_connections_is_an_outage(
    pg: sa.Engine, postgres_admin_url: str, postgres_url: str
) -> None:
    name = sa.engine.make_url(postgres_url).database
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.exec_driver_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
    try:
        assert dependency_of(raised(execute(pg, "SELECT 1"))) == DATABASE
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.dispose()
    execute(pg, "SELECT 1")()


def test_insufficient_resources_sqlstate_53_is_an_outage(pg: sa.Engine) -> None:
    def spill_to_disk() -> None:
        with pg.begin() as conn:
            conn.exec_driver_sql("SET LOCAL temp_file_limit = '1kB'")
            conn.exec_driver_sql("SET LOCAL work_mem = '64kB'")
            conn.exec_driver_sql("SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC").all()

    error = raised(spill_to_disk)
    assert isinstance(error, sa.exc.DBAPIError) and getattr(error.orig, "pgcode", None) == "53400"
    assert dependency_of(error) == DATABASE


def test_a_statement_past_its_timeout_is_an_outage(pg: sa.Engine) -> None:
    error = raised(execute(pg, "SET LOCAL statement_timeout = '50ms'", "SELECT pg_sleep(5)"))
    assert getattr(getattr(error, "orig", None), "pgcode", None) == "57014"  # query_canceled
    assert dependency_of(error) == DATABASE
    assert status_for(error)[0] == grpc.StatusCode.UNAVAILABLE


def test_a_lock_wait_past_the_lock_timeout_is_an_outage(pg: sa.Engine) -> None:
    with pg.begin() as holder:
        holder.exec_driver_sql("INSERT INTO t VALUES (7)")
        holder.exec_driver_sql("SELECT * FROM t WHERE id = 7 FOR UPDATE")
        lock = "LOCK TABLE t IN ACCESS EXCLUSIVE MODE"
        error = raised(execute(pg, "SET LOCAL lock_timeout = '50ms'", lock))
    assert getattr(getattr(error, "orig", None), "pgcode", None) == "55P03"  # lock_not_available
    assert dependency_of(error) == DATABASE


def test_the_victim_of_a_deadlock_is_an_outage(pg: sa.Engine) -> None:
    """Two transactions take two rows in opposite orders; the server rolls one back."""
    execute(pg, "INSERT INTO t VALUES (1), (2)")()
    both_hold_one = threading.Barrier(2)
    errors: list[BaseException] = []

    def take(first: int, second: int) -> None:
        try:
            with pg.begin() as conn:
                conn.exec_driver_sql("SET LOCAL deadlock_timeout = '50ms'")
                conn.exec_driver_sql(f"UPDATE t SET id = id WHERE id = {first}")
                both_hold_one.wait(timeout=10)
                conn.exec_driver_sql(f"UPDATE t SET id = id WHERE id = {second}")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take, args=order) for order in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 1, errors  # one victim; the other transaction committed
    assert getattr(getattr(errors[0], "orig", None), "pgcode", None) == "40P01"  # deadlock_detected
    assert dependency_of(errors[0]) == DATABASE


def test_a_serialization_failure_is_an_outage(pg: sa.Engine) -> None:
    execute(pg, "INSERT INTO t VALUES (1)")()
    with pg.connect() as a, pg.connect() as b:
        for conn in (a, b):
            conn.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
            conn.exec_driver_sql("SELECT * FROM t").all()
        a.exec_driver_sql("UPDATE t SET id = 2 WHERE id = 1")
        a.commit()
        error = raised(lambda: b.exec_driver_sql("UPDATE t SET id = 3 WHERE id = 1"))
        b.rollback()
    assert getattr(getattr(error, "orig", None), "pgcode", None) == "40001"  # serialization_failure
    assert dependency_of(error) == DATABASE


def test_no_pooled_connection_free_in_time_is_an_outage(postgres_url: str) -> None:
    engine = sa.create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.1,
    )
    try:
        with engine.connect():
            error = raised(engine.connect)
        assert isinstance(error, sa.exc.TimeoutError)
        assert dependency_of(error) == DATABASE
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("sql", "error_class"),
    [
        ("SELEC 1", sa.exc.ProgrammingError),  # a typo in SQL
        ("SELECT * FROM no_such_table", sa.exc.ProgrammingError),
        ("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)", sa.exc.IntegrityError),
        ("SELECT 1 / 0", sa.exc.DataError),
    ],
)
def test_postgres_programming_errors_stay_bugs(pg: sa.Engine, sql: str, error_class: type[Exception]) -> None:
    error = raised(execute(pg, sql))
    assert isinstance(error, error_class)
    assert dependency_of(error) is None
    assert unavailable_for(error) is None
    assert status_for(error)[0] == grpc.StatusCode.INTERNAL


def test_sqlite_locked_past_its_busy_timeout_is_an_outage(sqlite_file: Path) -> None:
    engine = create_db_engine(f"sqlite:///{sqlite_file}?timeout=0.2")
    holder = sqlite3.connect(sqlite_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        error = raised(execute(engine, "SELECT * FROM t"))
        assert isinstance(error, sa.exc.OperationalError) and "database is locked" in str(error)
        assert dependency_of(error) == DATABASE
        # The driver's own error, too.
        raw = raised(lambda: sqlite3.connect(sqlite_file, timeout=0.1).execute("BEGIN IMMEDIATE"))
        assert dependency_of(raw) == DATABASE
    finally:
        holder.rollback()
        holder.close()
    execute(engine, "SELECT * FROM t")()


def test_a_sqlite_file_that_cannot_be_opened_is_an_outage(tmp_path: Path) -> None:
    error = raised(lambda: sqlite3.connect(tmp_path / "missing" / "x.db"))
    assert dependency_of(error) == DATABASE


@pytest.mark.parametrize(
    "sql",
    ["SELEC 1", "SELECT * FROM no_such_table", "INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)"],
)
def test_sqlite_programming_errors_stay_bugs(sqlite_file: Path, sql: str) -> None:
    engine = create_db_engine(f"sqlite:///{sqlite_file}")
    error = raised(lambda: [execute(engine, part)() for part in sql.split("; ")])
    assert isinstance(error, sa.exc.OperationalError | sa.exc.IntegrityError)  # SQLite's syntax error class
    assert dependency_of(error) is None


def test_redis_away_is_an_outage_and_a_wrong_command_is_not(redis_url: str) -> None:
    away = redis.Redis(port=free_port(), socket_connect_timeout=1)
    assert dependency_of(raised(away.ping)) == REDIS
    live = redis.Redis.from_url(redis_url)
    live.set("outage-test-string", "x")
    wrong_type = raised(lambda: live.zadd("outage-test-string", {"a": 1}))
    assert isinstance(wrong_type, redis.exceptions.ResponseError)
    assert dependency_of(wrong_type) is None
    live.close()


def test_nats_away_is_an_outage(own_nats: NatsServer) -> None:
    async def quiet(_: Exception) -> None:
        pass

    async def scenario() -> tuple[BaseException, BaseException]:
        try:
            await nats.connect(
                f"nats://127.0.0.1:{free_port()}",
                connect_timeout=1,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=quiet,
            )
        except Exception as exc:
            refused: BaseException = exc
        bus = EventBus(own_nats.url, "outage-test")
        await bus.connect()
        own_nats.stop()
        try:
            await bus.publish("delinkcious.links.link_added", b"{}", msg_id="outage-test")
        except Exception as exc:
            lost: BaseException = exc
        await bus.close()
        return refused, lost

    refused, lost = asyncio.run(scenario())
    assert dependency_of(refused) == NATS
    assert dependency_of(lost) == NATS


def test_an_outage_behind_raise_from_is_still_one(sqlite_file: Path) -> None:
    holder = sqlite3.connect(sqlite_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        engine = create_db_engine(f"sqlite:///{sqlite_file}?timeout=0.1")
        cause = raised(execute(engine, "SELECT 1"))
    finally:
        holder.close()
    wrapped = RuntimeError("saving failed")
    wrapped.__cause__ = cause
    assert dependency_of(wrapped) == DATABASE
    assert dependency_of(RuntimeError("plain bug")) is None
    code, message = status_for(wrapped)
    assert code == grpc.StatusCode.UNAVAILABLE and "database" in message
