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


def regex_match(column: Any, pattern: str) -> sa.ColumnElement[bool]:
    """Case-insensitive 'matches anywhere'; compiled per dialect below."""
    return _RegexMatch(column, sa.literal(pattern))


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


def create_db_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Postgres connections are checked before use (`pool_pre_ping`) and the pool is
    dropped when one turns out dead, so the engine recovers by itself once the
    database is back; SQLite opens a connection per session."""
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        busy = sqlite_busy_timeout(url)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy}, poolclass=sa.pool.NullPool
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
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}", "connect_timeout": 5},
    )


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
        if conn.dialect.name == "sqlite":
            # Set on the driver's connection before the transaction begins; the
            # connection is not pooled, so the shorter wait ends with it.
            raw = conn.connection.dbapi_connection
            assert raw is not None
            wait = min(PING_LOCK_WAIT_SECONDS, sqlite_busy_timeout(engine.url.render_as_string()))
            raw.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        conn.execute(sa.text("SELECT 1"))


def sqlite_path(url: str) -> Path | None:
    url = normalize_database_url(url)
    if not url.startswith("sqlite:///"):
        return None
    database = sa.engine.make_url(url).database  # without a `?timeout=` query
    return Path(database) if database else None
