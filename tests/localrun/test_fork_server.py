"""Python services forked from the fork server are supervised as any other process:
their own process group, output, exit codes, signals and restarts; once all run, the
server is sealed and only follows them."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from delinkcious.localrun import LocalSystem, StartupError, childwatch
from delinkcious.localrun.catalog import PYTHON, ServiceDef
from delinkcious.localrun.system import FORK_ENV
from tests.localrun.helpers import caller_env, fake, group_members, group_running, running


def forked(name: str, *flags: str) -> ServiceDef:
    """The fake service as `python -m`, the form the fork server forks."""
    return replace(fake(name, *flags), argv=(PYTHON, "-m", "tests.localrun.fake_service", *flags))


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_forked_service_is_its_own_process_with_its_own_output_and_command_line(tmp_path: Path) -> None:
    out = io.StringIO()
    with LocalSystem(tmp_path, env=caller_env(), services=(forked("alpha"),), out=out) as system:
        pid = system.pids["alpha"]
        assert parent_of(pid) == system.fork_server_pid
        assert os.getpgid(pid) == pid and os.getsid(pid) == pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        assert cmdline[1:] == [b"-m", b"tests.localrun.fake_service"]
        url = system.specs[0].ready_url
        assert url and httpx.get(url, trust_env=False).status_code == 200  # on its own PORT
    assert re.search(rf"^alpha    \| fake: listening on \d+ as {pid}$", out.getvalue(), re.M), out.getvalue()
    assert not running(pid)


def test_the_fork_server_can_be_turned_off(tmp_path: Path) -> None:
    env = caller_env(**{FORK_ENV: "0"})
    with LocalSystem(tmp_path, env=env, services=(forked("alpha"),), out=io.StringIO()) as system:
        assert system.fork_server_pid is None
        assert parent_of(system.pids["alpha"]) == os.getpid()


def test_a_forked_service_that_dies_at_start_is_named_with_its_code(tmp_path: Path) -> None:
    system = LocalSystem(
        tmp_path, env=caller_env(), services=(forked("broken", "--exit", "3"),), out=io.StringIO()
    )
    with pytest.raises(StartupError, match="broken exited with code 3 before it was ready") as caught:
        system.start()
    assert "fake: configuration is broken, giving up" in str(caught.value)


def test_once_every_service_runs_the_server_drops_its_libraries_and_follows_them(tmp_path: Path) -> None:
    services = (forked("a"), forked("b"))
    with LocalSystem(tmp_path, env=caller_env(), services=services, out=io.StringIO()) as system:
        server = system.fork_server_pid
        assert server is not None
        # The same process (the services' parent still), now childwatch.py's loop.
        assert parent_of(system.pids["a"]) == server and parent_of(system.pids["b"]) == server
        assert _eventually(lambda: Path(childwatch.__file__).name in _cmdline(server))
        # None of the libraries it preloaded for the services is mapped any more.
        assert "pydantic_core" not in Path(f"/proc/{server}/maps").read_text()
        os.kill(system.pids["b"], signal.SIGKILL)
        assert system.wait() == "b"
        assert system.returncode("b") == -signal.SIGKILL  # reported by the new loop
        assert running(system.pids["a"])


def test_a_forked_service_killed_while_running_is_reported_and_restarts_as_a_process_of_its_own(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    system = LocalSystem(tmp_path, env=caller_env(), services=(forked("a"), forked("b")), out=out)
    try:
        system.start()
        first = system.pids["b"]
        os.kill(first, signal.SIGKILL)
        assert system.wait() == "b"
        assert system.returncode("b") == -signal.SIGKILL
        system.restart("b")
        assert system.pids["b"] != first and running(system.pids["b"])
        # The server was sealed once both ran: the restart is a process of the runner's.
        assert parent_of(system.pids["b"]) == os.getpid()
        assert "b: the fork server was sealed once every service had started" in out.getvalue()
        assert running(system.pids["a"])
    finally:
        system.stop()


def test_the_sealed_server_refuses_a_fork_and_goes_when_the_runner_hangs_up() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    watcher = subprocess.Popen(
        [sys.executable, "-I", "-S", childwatch.__file__, str(theirs.fileno())], pass_fds=(theirs.fileno(),)
    )
    theirs.close()
    try:
        read_end, write_end = os.pipe()
        socket.send_fds(ours, [json.dumps({"fork": "x", "args": [], "env": {}}).encode()], [write_end])
        os.close(write_end)
        ours.settimeout(10)
        assert json.loads(ours.recv(1 << 16)) == {"error": childwatch.SEALED}
        # It closed the descriptor it was sent: the pipe's only writer is gone.
        assert os.read(read_end, 1) == b""
        os.close(read_end)
        ours.close()
        assert watcher.wait(timeout=10) == 0
    finally:
        watcher.kill()
        watcher.wait()


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").replace("\0", " ")


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_stop_kills_a_forked_service_that_ignores_sigterm_and_its_children(tmp_path: Path) -> None:
    out = io.StringIO()
    service = forked("stubborn", "--ignore-term", "--grandchild")
    system = LocalSystem(tmp_path, env=caller_env(), services=(service,), stop_timeout=0.5, out=out)
    system.start()
    pid = system.pids["stubborn"]
    [grandchild] = group_members(pid) - {pid}
    system.stop()
    assert "stubborn did not stop in 0.5 s, killing it" in out.getvalue()
    assert not running(pid) and not running(grandchild) and not group_running(pid)


def test_a_forked_service_drains_on_sigterm_and_exits_0(tmp_path: Path) -> None:
    system = LocalSystem(tmp_path, env=caller_env(), services=(forked("calm"),), out=io.StringIO())
    system.start()
    try:
        system.kill("calm", signal.SIGTERM)
        assert system.returncode("calm") == 0
    finally:
        system.stop()


def test_without_its_fork_server_a_service_restarts_as_a_process_of_its_own(tmp_path: Path) -> None:
    out = io.StringIO()
    system = LocalSystem(tmp_path, env=caller_env(), services=(forked("a"),), out=out)
    try:
        system.start()
        server = system.fork_server_pid
        assert server is not None
        os.kill(server, signal.SIGKILL)  # its children get SIGTERM from the kernel
        assert system.wait() == "a"
        system.restart("a")
        assert parent_of(system.pids["a"]) == os.getpid()
        assert "a: the fork server is gone" in out.getvalue()
    finally:
        system.stop()
