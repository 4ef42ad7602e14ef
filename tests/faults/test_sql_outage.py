"""Each SQL service's own database taken away in the middle of a request, then given
back: the request in flight and the ones after it are `503 unavailable` (never a
500), /readyz names the database until it is back, and the service recovers by itself.

Postgres: the service's database stops taking connections and every connection to it
is terminated (as a restart or failover does), while a request waits on a table lock.
SQLite: another connection holds the write lock longer than the busy timeout."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.faults.support import Running, assert_not_ready, assert_unavailable, started
from tests.servers import SERVICE_PORT_VARS, free_port


@dataclass(frozen=True)
class Write:
    """A request that writes the service's database (a write transaction on SQLite)."""

    method: str
    path: str
    body: Callable[[int], dict[str, str]] | None  # the body, from a number unique to the call
    ok: int


@dataclass(frozen=True)
class SqlService:
    name: str
    database_env: str
    table: str  # the table the probe request reads
    probe: str  # GET path that reads it
    ok: int  # the probe's status while the database is there
    # Reads run beside SQLite's writer (deferred read transactions in WAL): a held
    # write lock stops only writes.
    write: Write


SERVICES = [
    SqlService(
        "link-manager",
        "LINK_MANAGER_DATABASE_URL",
        "links",
        "/users/alice/links",
        200,
        Write("POST", "/users/alice/links", lambda n: {"url": f"https://example.com/{n}"}, 201),
    ),
    SqlService(
        "user-manager",
        "USER_MANAGER_DATABASE_URL",
        "users",
        "/users/alice",
        404,
        Write(
            "POST",
            "/identities/login",
            lambda n: {"provider": "github", "subject": f"id-{n}", "username": f"u{n % 10**12}"},
            200,
        ),
    ),
    SqlService(
        "social-graph-manager",
        "SOCIAL_GRAPH_MANAGER_DATABASE_URL",
        "follows",
        "/users/alice/following",
        200,
        # An unfollow: a follow would first ask user-manager, which is not running here.
        Write("DELETE", "/users/alice/following/bob", None, 204),
    ),
]


def service_env(database_url: str, service: SqlService, nats_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({var: str(free_port()) for var in SERVICE_PORT_VARS})
    env[service.database_env] = database_url
    # What the services use besides their database; none of it takes part here.
    env.update(NATS_URL=nats_url, USER_MANAGER_URL=f"http://127.0.0.1:{free_port()}")
    env["DELINKCIOUS_READY_TIMEOUT"] = "90"
    return env


def ask(c: httpx.Client, run: Running, service: SqlService, *, write: bool = False) -> httpx.Response:
    """The probe read, or with `write` the service's write."""
    if write:
        body = service.write.body(time.monotonic_ns()) if service.write.body else None
        return c.request(service.write.method, service.write.path, json=body, headers=run.caller())
    return c.get(service.probe, headers=run.caller())


def ok_status(service: SqlService, *, write: bool) -> int:
    return service.write.ok if write else service.ok


@contextmanager
def load(run: Running, service: SqlService, *, write: bool = False) -> Iterator[list[int]]:
    """Probe requests, one after another from two threads, for as long as the block
    runs; yields the statuses seen so far."""
    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        with run.client(service.name) as c:
            while not stop.is_set():
                statuses.append(ask(c, run, service, write=write).status_code)
                time.sleep(0.05)

    with ThreadPoolExecutor(2) as pool:
        workers = [pool.submit(keep_asking) for _ in range(2)]
        try:
            yield statuses
        finally:
            stop.set()
            for worker in workers:
                worker.result()


def probe_in_background(
    run: Running, service: SqlService
) -> tuple[ThreadPoolExecutor, Future[httpx.Response]]:
    pool = ThreadPoolExecutor(1)

    def ask() -> httpx.Response:
        with run.client(service.name) as c:
            return c.get(service.probe, headers=run.caller())

    return pool, pool.submit(ask)


def answered_after_recovery(statuses: list[int], seconds: float = 10.0) -> None:
    """Waits until the background load has had four more answers (about two from each
    of its threads), so its last status is of a request sent after the service
    recovered: one in flight during the outage can still answer 503 after the check."""
    wanted = len(statuses) + 4
    deadline = time.monotonic() + seconds
    while len(statuses) < wanted and time.monotonic() < deadline:
        time.sleep(0.02)


def check_recovered(run: Running, service: SqlService) -> None:
    with run.client(service.name) as c:
        assert c.get("/readyz").status_code == 200, c.get("/readyz").text
        assert c.get(service.probe, headers=run.caller()).status_code == service.ok


@pytest.mark.parametrize("service", SERVICES, ids=[s.name for s in SERVICES])
def test_postgres_going_away_mid_request_is_a_503_and_the_service_recovers(
    service: SqlService, postgres_url: str, postgres_admin_url: str, nats_url: str, tmp_path: Path
) -> None:
    database = sa.engine.make_url(postgres_url).database
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    env = service_env(postgres_url, service, nats_url)
    with started(tmp_path / "data", env, only=[service.name]) as run, run.client(service.name) as c:
        assert c.get(service.probe, headers=run.caller()).status_code == service.ok
        holder = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool).connect()
        try:
            with load(run, service) as statuses:
                # A request waits on a lock when its database goes away (the
                # lock's holder is terminated with every other connection).
                holder.begin()
                holder_pid = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                holder.exec_driver_sql(f"LOCK TABLE {service.table} IN ACCESS EXCLUSIVE MODE")
                pool, in_flight = probe_in_background(run, service)
                time.sleep(0.5)
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                    # The service's connections first, the lock's holder last: ended
                    # first, it would let the waiting request through before its own
                    # connection is ended.
                    conn.exec_driver_sql(
                        # (waiting up to 5 s for each to end: Postgres 14 and later)
                        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                        f"WHERE datname = '{database}' AND pid <> pg_backend_pid() AND pid <> {holder_pid}"
                    )
                    conn.exec_driver_sql(f"SELECT pg_terminate_backend({holder_pid})")
                assert_unavailable(in_flight.result(timeout=20))
                pool.shutdown()
                assert_unavailable(c.get(service.probe, headers=run.caller()))
                assert_not_ready(c.get("/readyz"), "database")
                time.sleep(1)
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
                check_recovered(run, service)
                answered_after_recovery(statuses)
            assert set(statuses) <= {service.ok, 503}, statuses
            assert 503 in statuses and statuses[-1] == service.ok, statuses
        finally:
            with contextlib.suppress(sa.exc.DBAPIError):  # terminated with the others
                holder.close()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            admin.dispose()
    run.assert_no_500()


@pytest.mark.parametrize("service", SERVICES, ids=[s.name for s in SERVICES])
def test_sqlite_locked_past_its_busy_timeout_is_a_503_and_the_service_recovers(
    service: SqlService, nats_url: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{service.name}.db"
    env = service_env(f"sqlite:///{path}?timeout=1", service, nats_url)
    ok = ok_status(service, write=True)
    with started(tmp_path / "data", env, only=[service.name]) as run, run.client(service.name) as c:
        assert c.get(service.probe, headers=run.caller()).status_code == service.ok
        with load(run, service, write=True) as statuses:
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                started_at = time.monotonic()
                assert_unavailable(ask(c, run, service, write=True))
                assert time.monotonic() - started_at >= 0.9  # it waited out the busy timeout first
                # Reads go on beside the held write lock.
                assert c.get(service.probe, headers=run.caller()).status_code == service.ok
                assert_not_ready(c.get("/readyz"), "database")
                assert "database is locked" in c.get("/readyz").json()["failed"]["database"]
            finally:
                holder.rollback()
                holder.close()
            check_recovered(run, service)
            answered_after_recovery(statuses)
        assert set(statuses) <= {ok, 503}, statuses
        assert 503 in statuses and statuses[-1] == ok, statuses
    run.assert_no_500()
