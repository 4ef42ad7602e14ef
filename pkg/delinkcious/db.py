"""SQLAlchemy 2 helpers shared by the SQL stores: engines for Postgres and SQLite,
a UTC datetime column type, a regex operator both databases agree on, and
migrations applied at start."""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import re2
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DataError, ProgrammingError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, sessionmaker

from delinkcious.errors import InvalidArgument
from delinkcious.timeutil import as_utc

# Bounds any one statement, so a costly regex cannot hold a connection for long.
STATEMENT_TIMEOUT_MS = 5000
# How long a SQLite connection waits for another's write lock before "database is
# locked" (a 503); `?timeout=SECONDS` on the database URL changes it.
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# A readiness ping waits at most this long for the lock: a probe must answer quickly,
# and a locked file is exactly what it should report.
PING_LOCK_WAIT_SECONDS = 2.0


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores UTC; SQLite keeps no zone, so values come back naive and are re-marked UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def normalize_database_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.dot_nl = True  # as on Postgres, where '.' matches a newline
    return re2.compile(pattern, options)


# An unescaped \b or \B: a word boundary in RE2, but backspace and backslash on Postgres.
_AMBIGUOUS_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\[bB]")


def check_regex(pattern: str, field: str) -> None:
    """Patterns run on RE2 (SQLite) or Postgres; both are linear-time engines with a
    common syntax. A pattern RE2 rejects, or one the two would read differently, is a
    400 before any database sees it."""
    if _AMBIGUOUS_ESCAPE.search(pattern):
        raise InvalidArgument(
            f"{field}: \\b and \\B are not supported (their meaning differs between databases)"
        )
    try:
        _compile(pattern)
    except re2.error as exc:
        raise InvalidArgument(f"{field} is not a valid regular expression: {exc}") from None


def regex_search(pattern: str, value: str | None) -> bool:
    """Case-insensitive RE2 search: SQLite's dlk_regexp() and the in-memory stores."""
    return value is not None and _compile(pattern).search(value) is not None


def regex_match(column: Any, pattern: str | sa.BindParameter[str]) -> sa.ColumnElement[bool]:
    """Case-insensitive 'matches anywhere'; compiled per dialect below. The pattern is
    a value, or a bound parameter of a statement built once and run with many."""
    return _RegexMatch(column, pattern if isinstance(pattern, sa.BindParameter) else sa.literal(pattern))


class _RegexMatch(sa.sql.expression.FunctionElement[bool]):
    type = sa.Boolean()
    inherit_cache = True
    name = "dlk_regexp"

    def __init__(self, column: Any, pattern: Any) -> None:
        super().__init__(column, pattern)


@compiles(_RegexMatch, "postgresql")
def _regex_pg(element: _RegexMatch, compiler: Any, **kw: Any) -> str:
    column, pattern = list(element.clauses)
    return f"({compiler.process(column, **kw)} ~* {compiler.process(pattern, **kw)})"


@compiles(_RegexMatch, "sqlite")
def _regex_sqlite(element: _RegexMatch, compiler: Any, **kw: Any) -> str:
    column, pattern = list(element.clauses)
    return f"dlk_regexp({compiler.process(pattern, **kw)}, {compiler.process(column, **kw)})"


def is_bad_regex_error(exc: Exception) -> bool:
    """Postgres rejects a few patterns RE2 accepts (its syntax differs at the edges)."""
    return isinstance(exc, DataError | ProgrammingError) and "regular expression" in str(exc)


def sqlite_busy_timeout(url: str) -> float:
    """The busy timeout a SQLite URL asks for (`?timeout=SECONDS`), else the default."""
    raw = sa.engine.make_url(url).query.get("timeout")
    if raw is None:
        return SQLITE_BUSY_TIMEOUT_SECONDS
    try:
        seconds = float(raw if isinstance(raw, str) else raw[-1])
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"the SQLite URL's timeout must be a positive number of seconds, not {raw!r}")
    return seconds


# How many threads use one engine at once: anyio's worker threads (40, FastAPI's sync
# routes and dependencies) and a few more of asyncio's default executor (background
# work). A pool that size never makes a request wait for a connection its thread
# could have had; connections open lazily, so an idle service holds few.
POOL_CONNECTIONS = 48
# Postgres keeps this many open once used; the rest up to POOL_CONNECTIONS close when
# a burst is over, so the server does not keep idle backends for every replica.
POSTGRES_POOL_SIZE = 10
# A pooled Postgres connection idle longer than this is pinged before use: one that
# died while idle (a restart, a failover, an idle timeout) is replaced unseen, while a
# busy pool, whose connections are seconds old at most, pays no round trip for it.
# A connection that dies while in use fails its statement, which invalidates the whole
# pool, so the next checkouts reconnect.
PING_IDLE_SECONDS = 1.0
# The execution option read-only work sets (see `read_only`).
READ_ONLY_OPTION = "delinkcious_read_only"


def create_db_engine(url: str, *, pool_size: int | None = None) -> Engine:
    """Postgres connections idle for a while are checked before use and the pool is
    dropped when one turns out dead, so the engine recovers by itself once the
    database is back. SQLite connections are pooled too, each opened once (functions,
    PRAGMAs, WAL) and used by one thread at a time."""
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    size = min(pool_size or POSTGRES_POOL_SIZE, POOL_CONNECTIONS)
    engine = sa.create_engine(
        url,
        pool_size=size,
        max_overflow=max(POOL_CONNECTIONS - size, size * 2),
        pool_recycle=1800,
        connect_args={"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}", "connect_timeout": 5},
    )
    _ping_idle_connections(engine)
    return engine


def _sqlite_engine(url: str) -> Engine:
    busy = sqlite_busy_timeout(url)
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy},
        poolclass=sa.pool.QueuePool,
        pool_size=POOL_CONNECTIONS,
        max_overflow=0,
        # The connection returned last is handed out next: its page cache is warm, and
        # a light load keeps to a few connections.
        pool_use_lifo=True,
        # A thread waits for a free connection as long as it would for the lock.
        pool_timeout=busy,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.create_function("dlk_regexp", 2, regex_search, deterministic=True)
        # Autocommit at the driver level lets "BEGIN IMMEDIATE" below take the
        # write lock up front, so concurrent writers queue instead of deadlocking.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        _switch_to_wal(cur, busy)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A read-only transaction takes no lock up front: in WAL it reads its snapshot
        # alongside the writer. Every other transaction may write, so it takes the
        # write lock at once; a deferred one that upgraded later could deadlock with
        # another upgrading reader, each waiting for the other's snapshot to end.
        if conn.get_execution_options().get(READ_ONLY_OPTION, False):
            # Straight to the driver: a deferred BEGIN touches no file and takes no
            # lock, so it cannot fail the way a statement whose errors SQLAlchemy
            # classifies can, and the round through SQLAlchemy's execution was a
            # sixth of a list request's CPU.
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError(f"a pooled connection died while idle: {exc}") from exc


def read_only(engine: Engine) -> Engine:
    """The engine for work that only reads: on SQLite its transactions begin deferred,
    so reads neither wait for the writer nor hold writers up."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def reader_of(sessions: sessionmaker[Session]) -> Engine:
    """The read-only engine (`read_only`) under a store's sessions: its pure reads go
    there, so on SQLite they neither take the write lock nor queue behind a writer."""
    bind = sessions.kw["bind"]
    assert isinstance(bind, Engine)
    return read_only(bind)


def _switch_to_wal(cur: sqlite3.Cursor, patience_seconds: float = 30.0) -> None:
    """Switching a file to WAL ignores the busy timeout: while another connection writes,
    it fails at once with "database is locked". Wait that out like any other lock."""
    deadline = time.monotonic() + patience_seconds
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session


def ping(engine: Engine) -> None:
    """Readiness: a connection and a statement. On SQLite the statement's transaction
    takes the write lock (BEGIN IMMEDIATE), so a file some other connection holds
    locked fails the ping, within PING_LOCK_WAIT_SECONDS."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            conn.execute(sa.text("SELECT 1"))
            return
        # Set on the driver's connection before the transaction begins, and set back
        # before the connection returns to the pool, where others expect the full wait.
        raw = conn.connection.dbapi_connection
        assert raw is not None
        busy = sqlite_busy_timeout(engine.url.render_as_string())
        raw.execute(f"PRAGMA busy_timeout={int(min(PING_LOCK_WAIT_SECONDS, busy) * 1000)}")
        try:
            conn.execute(sa.text("SELECT 1"))
        finally:
            raw.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")


def sqlite_path(url: str) -> Path | None:
    url = normalize_database_url(url)
    if not url.startswith("sqlite:///"):
        return None
    database = sa.engine.make_url(url).database  # without a `?timeout=` query
    return Path(database) if database else None
