"""The first `make run` on an empty data folder, with the services slow to become
ready, seen the way a script sees it: it polls only the gateway's /readyz, and the
first follow, save and news read after that 200 all succeed.

The services are slowed the way a slow disk or a long migration slows them: another
connection holds each (still empty) SQLite database's write lock for a while, so
their migrations wait for it, social-graph-manager's longest."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from delinkcious.localrun import LocalSystem
from tests.faults.support import Tee, assert_no_500
from tests.localrun.helpers import caller_env, pinned_ports

# Seconds each service's database stays locked after the run starts.
HELD = {"link_manager.db": 2.0, "user_manager.db": 4.0, "social_graph_manager.db": 7.0}
PATIENCE = 90.0


@contextmanager
def locked_for(data_dir: Path, held: dict[str, float]) -> Iterator[dict[str, float]]:
    """Takes each file's write lock now and lets go of it after its delay; yields the
    monotonic times at which they are let go."""
    data_dir.mkdir(mode=0o700)
    start = time.monotonic()
    releases = {name: start + delay for name, delay in held.items()}
    holders = []
    for name in held:
        conn = sqlite3.connect(data_dir / name, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
        holders.append(conn)
    timers = [
        threading.Timer(delay, conn.rollback) for conn, delay in zip(holders, held.values(), strict=True)
    ]
    for timer in timers:
        timer.start()
    try:
        yield releases
    finally:
        for timer in timers:
            timer.join()
        for conn in holders:
            conn.close()


@contextmanager
def running_in_background(system: LocalSystem) -> Iterator[list[BaseException]]:
    """start() in a thread that lives until the block ends (the services stop when the
    thread that started them ends); yields the errors start() raised, if any."""
    errors: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            system.start()
        except BaseException as exc:
            errors.append(exc)
            return
        done.wait()
        system.stop()

    thread = threading.Thread(target=run, name="cold-start")
    thread.start()
    try:
        yield errors
    finally:
        done.set()
        thread.join()
        system.stop()


def wait_for_gateway(gateway: str, errors: list[BaseException]) -> float:
    """Polls GET /readyz until 200, as a script would; the time it first said ready."""
    deadline = time.monotonic() + PATIENCE
    with httpx.Client(base_url=gateway, trust_env=False, timeout=5) as c:
        while time.monotonic() < deadline:
            assert not errors, errors
            try:
                if c.get("/readyz").status_code == 200:
                    return time.monotonic()
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.1)
    raise AssertionError(f"the gateway was not ready after {PATIENCE:g} s")


def test_a_cold_start_serves_at_once_once_the_gateway_says_ready(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = pinned_ports()
    gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    out = Tee()
    env = caller_env(**ports, DELINKCIOUS_READY_TIMEOUT=str(PATIENCE))
    system = LocalSystem(data_dir, env=env, out=out)
    with locked_for(data_dir, HELD) as releases, running_in_background(system) as errors:
        ready_at = wait_for_gateway(gateway, errors)
        # It did not say ready while a service behind it was still held up.
        assert ready_at > max(releases.values())
        with httpx.Client(base_url=gateway, trust_env=False, timeout=10) as api:
            tokens = {}
            for name in ("ann", "ben"):
                login = api.post("/login/dev", json={"username": name})
                assert login.status_code == 200, login.text
                tokens[name] = {"Authorization": f"Bearer {login.json()['access_token']}"}
            follow = api.post("/v1/following", headers=tokens["ben"], json={"followed": "ann"})
            assert follow.status_code == 204, follow.text
            save = api.post("/v1/links", headers=tokens["ann"], json={"url": "https://example.com/cold"})
            assert save.status_code == 201, save.text
            news = api.get("/v1/news", headers=tokens["ben"])
            assert news.status_code == 200, news.text
    assert "api-gateway starts once" in out.getvalue()
    assert_no_500(out.getvalue())
