"""Which failures mean "a dependency is away", decided once for every service.

A database restarting, a SQLite file locked past its busy timeout, a Postgres
statement past its timeout or chosen as a deadlock's victim, Redis or NATS gone: the
caller should try again later (`503 unavailable`, gRPC UNAVAILABLE), and
dashboards built on the 5xx rate should not count it as a bug. Everything else that
escapes a route (a SQL syntax error, an integrity error nobody caught) stays a 500.

The decision is by error class and, for Postgres, by SQLSTATE class, never by
catching broadly: an error is an outage only when its driver says the connection
or the server's capacity failed.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

from delinkcious.errors import Unavailable

DATABASE, REDIS, NATS, NETWORK = "the database", "redis", "nats", "a dependency"

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many
# connections, out of memory or disk).
_SQLSTATE_CLASSES = ("08", "53")
# admin_shutdown (pg_terminate_backend, a fast stop), crash_shutdown, cannot_connect_now
# (the server is starting or stopping); and the statement the server gave up on or
# rolled back for now, which succeeds when tried again: query_canceled (the statement
# timeout, a server overloaded or a lock held too long), lock_not_available (a lock
# timeout), serialization_failure, deadlock_detected.
_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57014", "55P03", "40001", "40P01"})

# SQLite's primary result codes for a file that is busy or cannot be used right now;
# SQLITE_ERROR (a syntax error, a missing table) and SQLITE_CONSTRAINT are not here.
_SQLITE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # "database is locked" past the busy timeout
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_PROTOCOL,
    }
)


def dependency_of(exc: BaseException) -> str | None:
    """The dependency whose outage `exc` reports ("the database", "redis", "nats",
    "a dependency"), or None when it is not an outage. Follows `raise ... from`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify(current)
        if found is not None:
            return found
        current = current.__cause__
    return None


def unavailable_for(exc: BaseException) -> Unavailable | None:
    """The 503 a caller should see for `exc`, or None when `exc` is not an outage."""
    dependency = dependency_of(exc)
    if dependency is None:
        return None
    if dependency == NETWORK and str(exc):
        # A plain ConnectionError says itself what it could not reach.
        return Unavailable(f"{dependency} is unavailable: {str(exc)[:200]}")
    return Unavailable(f"{dependency} is unavailable; try again shortly")


def _classify(exc: BaseException) -> str | None:
    # A driver's error exists only once its driver is loaded: ask only those that are,
    # so a service that never touches a database does not pay for importing one.
    for loaded, classify in _CLASSIFIERS:
        if loaded in sys.modules:
            found = classify(exc)
            if found is not None:
                return found
    if isinstance(exc, sqlite3.Error):
        return DATABASE if _sqlite_outage(exc) else None
    if isinstance(exc, ConnectionError | TimeoutError):
        return NETWORK
    return None


def _sqlalchemy(exc: BaseException) -> str | None:
    import sqlalchemy.exc as sa_errors

    if isinstance(exc, sa_errors.DBAPIError):
        # SQLAlchemy recognised a lost connection (and dropped it from the pool).
        if exc.connection_invalidated:
            return DATABASE
        return _classify(exc.orig) if exc.orig is not None else None
    if isinstance(exc, sa_errors.DisconnectionError | sa_errors.TimeoutError):
        return DATABASE  # a pre-ping that failed; no pooled connection free in time
    return None


def _psycopg2(exc: BaseException) -> str | None:
    import psycopg2

    if isinstance(exc, psycopg2.Error):
        return DATABASE if _postgres_outage(exc) else None
    return None


def _redis(exc: BaseException) -> str | None:
    import redis.exceptions as redis_errors

    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return REDIS  # BusyLoadingError (still loading its data) is a ConnectionError
    return None


def _nats(exc: BaseException) -> str | None:
    import nats.errors as nats_errors
    import nats.js.errors as jetstream_errors

    outages = (
        nats_errors.NoServersError,
        nats_errors.ConnectionClosedError,
        nats_errors.ConnectionDrainingError,
        nats_errors.ConnectionReconnectingError,
        nats_errors.StaleConnectionError,
        nats_errors.OutboundBufferLimitError,
        nats_errors.TimeoutError,  # also FlushTimeoutError, FetchTimeoutError
        nats_errors.NoRespondersError,  # JetStream is not running
        nats_errors.DrainTimeoutError,
        jetstream_errors.ServiceUnavailableError,
        jetstream_errors.NoStreamResponseError,
    )
    return NATS if isinstance(exc, outages) else None


# (the module that must be loaded, its classifier), most specific first.
_CLASSIFIERS = (
    ("sqlalchemy", _sqlalchemy),
    ("psycopg2", _psycopg2),
    ("redis", _redis),
    ("nats", _nats),
)


def _postgres_outage(exc: Any) -> bool:
    import psycopg2

    code = exc.pgcode
    if code:
        return code[:2] in _SQLSTATE_CLASSES or code in _SQLSTATES
    # No SQLSTATE: libpq itself failed (connection refused, the server closed the
    # connection, a FATAL at connect time such as "the database system is shutting down").
    return isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError)


def _sqlite_outage(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_CODES  # extended codes carry the primary one in the low byte
    return isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)
