"""LocalSystem end to end: real processes, real ports, real readiness checks."""

from __future__ import annotations

import io
import json
import os
import re
import signal
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from delinkcious.localrun import LocalSystem, StartupError
from delinkcious.localrun.catalog import PYTHON, ServiceDef
from delinkcious.localrun.lock import RunLock
from delinkcious.localrun.ports import free_port
from tests.localrun.helpers import caller_env, fake, group_members, group_running, pinned_ports, running


def user_manager(data_dir: Path, **env: str) -> LocalSystem:
    return LocalSystem(
        data_dir, env=caller_env(**pinned_ports(), **env), only={"user-manager"}, out=io.StringIO()
    )


def gateway_headers(data_dir: Path) -> dict[str, str]:
    secrets = json.loads((data_dir / "secrets.json").read_text())
    return {"Delinkcious-Caller-Token": secrets["caller_tokens"]["api-gateway"]}


def test_user_manager_starts_ready_and_stops_leaving_no_process(tmp_path: Path) -> None:
    system = user_manager(tmp_path)
    try:
        urls = system.start()
        assert list(urls) == ["user-manager"]
        assert httpx.get(f"{urls['user-manager']}/readyz", trust_env=False).status_code == 200
        pid = system.pids["user-manager"]
        assert running(pid)
    finally:
        system.stop()
    assert not running(pid)
    assert not group_running(pid)
    assert (tmp_path / "user_manager.db").is_file()
    # The lock went with it: the same folder can be started again.
    again = user_manager(tmp_path)
    again.start()
    again.stop()


def test_data_and_secrets_survive_a_restart(tmp_path: Path) -> None:
    identity = {"provider": "github", "subject": "42", "username": "alice"}
    with user_manager(tmp_path) as first:
        url = first.specs[0].url
        headers = gateway_headers(tmp_path)
        assert httpx.post(f"{url}/identities/login", json=identity, headers=headers).status_code == 200
        issued = httpx.post(f"{url}/users/alice/tokens", headers=headers)
        assert issued.status_code == 201
    secrets_before = (tmp_path / "secrets.json").read_bytes()

    with user_manager(tmp_path) as second:
        url = second.specs[0].url
        headers = gateway_headers(tmp_path)
        assert httpx.get(f"{url}/users/alice", headers=headers).json()["username"] == "alice"
        token = {"token": issued.json()["access_token"]}
        owner = httpx.post(f"{url}/tokens/validate", json=token, headers=headers)
        assert owner.status_code == 200
        assert owner.json()["username"] == "alice"
    assert (tmp_path / "secrets.json").read_bytes() == secrets_before


def test_a_database_url_from_the_environment_is_used_instead_of_sqlite(
    tmp_path: Path, postgres_url: str
) -> None:
    with user_manager(tmp_path, USER_MANAGER_DATABASE_URL=postgres_url):
        pass
    assert not (tmp_path / "user_manager.db").exists()
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        assert "alembic_version_user_manager" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_service_that_dies_at_start_is_named_with_its_last_lines(tmp_path: Path) -> None:
    good, bad = fake("steady"), fake("broken", "--exit", "3")
    system = LocalSystem(tmp_path, env=caller_env(), services=(good, bad), out=io.StringIO())
    with pytest.raises(StartupError, match="broken exited with code 3 before it was ready") as caught:
        system.start()
    assert "fake: configuration is broken, giving up" in str(caught.value)
    assert system.pids == {}  # the healthy one was stopped too
    lock = RunLock(tmp_path / "run.lock")
    lock.acquire()  # and the folder is free for the next run
    lock.release()


def test_a_service_that_never_gets_ready_times_out_with_the_last_answer(tmp_path: Path) -> None:
    system = LocalSystem(
        tmp_path,
        env=caller_env(),
        services=(fake("sluggish", "--not-ready"),),
        ready_timeout=1,
        out=io.StringIO(),
    )
    with pytest.raises(StartupError, match=r"sluggish was not ready after 1 s \(GET .*/readyz: HTTP 503"):
        system.start()


def test_a_service_that_dies_while_running_is_reported(tmp_path: Path) -> None:
    system = LocalSystem(tmp_path, env=caller_env(), services=(fake("a"), fake("b")), out=io.StringIO())
    try:
        system.start()
        os.kill(system.pids["b"], signal.SIGKILL)
        assert system.wait() == "b"
        assert system.returncode("b") == -signal.SIGKILL
    finally:
        system.stop()


def test_a_requested_stop_ends_the_wait(tmp_path: Path) -> None:
    system = LocalSystem(tmp_path, env=caller_env(), services=(fake("a"),), out=io.StringIO())
    try:
        system.start()
        system.request_stop()
        assert system.wait() is None
    finally:
        system.stop()


def test_stop_kills_what_ignores_sigterm_and_what_a_service_started(tmp_path: Path) -> None:
    out = io.StringIO()
    system = LocalSystem(
        tmp_path,
        env=caller_env(),
        services=(fake("stubborn", "--ignore-term", "--grandchild"),),
        stop_timeout=0.5,
        out=out,
    )
    system.start()
    pid = system.pids["stubborn"]
    [grandchild] = group_members(pid) - {pid}
    system.stop()
    assert "stubborn did not stop in 0.5 s, killing it" in out.getvalue()
    assert not running(pid)
    assert not running(grandchild)
    assert not group_running(pid)


def test_stop_kills_what_a_service_left_behind_in_its_group(tmp_path: Path) -> None:
    system = LocalSystem(
        tmp_path, env=caller_env(), services=(fake("leaky", "--stubborn-grandchild"),), out=io.StringIO()
    )
    system.start()
    pid = system.pids["leaky"]
    [grandchild] = group_members(pid) - {pid}
    try:
        system.stop()
        assert not running(grandchild)
        assert not group_running(pid)
    finally:
        if running(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def test_service_output_is_printed_with_its_name(tmp_path: Path) -> None:
    out = io.StringIO()
    with LocalSystem(tmp_path, env=caller_env(), services=(fake("alpha"),), out=out) as system:
        pid = system.pids["alpha"]
    assert re.search(rf"^alpha    \| fake: listening on \d+ as {pid}$", out.getvalue(), re.M), out.getvalue()
    assert "localrun | alpha is ready on http://127.0.0.1:" in out.getvalue()


def test_brokers_stop_after_the_services_that_use_them(tmp_path: Path) -> None:
    # Listed first, as NATS and Redis are: still stopped last.
    broker = replace(fake("broker"), url_env="BROKER_URL", ready_path=None, ready_tcp=True)
    user = replace(fake("user", "--reach-on-term", "BROKER_URL"), uses=(("BROKER_URL", "broker"),))
    out = io.StringIO()
    with LocalSystem(tmp_path, env=caller_env(), services=(broker, user), out=out) as system:
        assert [spec.infrastructure for spec in system.specs] == [True, False]
    assert "fake: BROKER_URL still reachable at shutdown" in out.getvalue(), out.getvalue()


def test_a_broker_is_ready_once_its_port_accepts_connections(tmp_path: Path) -> None:
    # The fake speaks HTTP, but a TCP-ready entry is never asked anything.
    broker = replace(fake("broker", "--not-ready"), ready_path=None, ready_tcp=True)
    with LocalSystem(tmp_path, env=caller_env(), services=(broker,), out=io.StringIO()) as system:
        assert system.specs[0].ready_url == f"tcp://127.0.0.1:{system.specs[0].port}"


def test_a_broker_that_never_listens_times_out_naming_its_port(tmp_path: Path) -> None:
    silent = ServiceDef(
        name="silent",
        argv=(PYTHON, "-c", "import time; time.sleep(600)"),
        default_port=free_port(),
        port_env="SILENT_PORT",
        ready_path=None,
        ready_tcp=True,
    )
    system = LocalSystem(tmp_path, env=caller_env(), services=(silent,), ready_timeout=1, out=io.StringIO())
    with pytest.raises(
        StartupError, match=r"silent was not ready after 1 s \(connect to tcp://127\.0\.0\.1:\d+: .*refused"
    ):
        system.start()
    assert system.pids == {}
