"""`python -m delinkcious.localrun`, as `make run` starts it."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.localrun.helpers import caller_env, pinned_ports, running

# A safety net so a broken runner fails the test instead of hanging it; never reached when it works.
PATIENCE = 120


class Runner:
    """The runner in a subprocess, its output collected line by line."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "delinkcious.localrun",
                "--only",
                "user-manager",
                "--data-dir",
                str(data_dir),
            ],
            env=caller_env(**pinned_ports(), NO_COLOR="1"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, pattern: str) -> re.Match[str]:
        while True:
            line = self._queue.get(timeout=PATIENCE)
            if line is None:
                raise AssertionError(f"runner ended before printing {pattern!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if found := re.search(pattern, line):
                return found

    def finish(self) -> int:
        code = self.proc.wait(timeout=PATIENCE)
        while (line := self._queue.get(timeout=PATIENCE)) is not None:
            self.lines.append(line)
        return code


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    run = Runner(tmp_path)
    yield run
    if run.proc.poll() is None:
        run.proc.kill()
        run.proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_runner_serves_until_signalled_then_stops_cleanly(runner: Runner, sig: signal.Signals) -> None:
    service_pid = int(runner.until(r"^user-manager \| .*Started server process \[(\d+)\]").group(1))
    url = runner.until(r"curl -s (http://127\.0\.0\.1:\d+/readyz)").group(1)
    assert httpx.get(url, trust_env=False).status_code == 200

    runner.proc.send_signal(sig)
    assert runner.finish() == 0, "\n".join(runner.lines)
    assert f"localrun     | {sig.name} received, stopping" in runner.lines
    assert runner.lines[-1] == "localrun     | stopped"
    assert not running(service_pid)


def test_a_second_runner_on_the_same_data_folder_fails_at_once(runner: Runner, tmp_path: Path) -> None:
    runner.until(r"curl -s http://")
    second = subprocess.run(
        [sys.executable, "-m", "delinkcious.localrun", "--only", "user-manager", "--data-dir", str(tmp_path)],
        env=caller_env(**pinned_ports()),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert second.returncode == 1
    assert f"Delinkcious is already running from {tmp_path} (PID {runner.proc.pid} holds" in second.stderr
    assert "Traceback" not in second.stderr + second.stdout
    runner.proc.send_signal(signal.SIGTERM)
    assert runner.finish() == 0


def test_a_service_dying_while_running_stops_the_runner_with_an_error(runner: Runner) -> None:
    service_pid = int(runner.until(r"^user-manager \| .*Started server process \[(\d+)\]").group(1))
    runner.until(r"curl -s http://")
    os.kill(service_pid, signal.SIGKILL)
    assert runner.finish() == 1
    assert "localrun     | user-manager exited unexpectedly (code -9); stopping the others" in runner.lines


def run_once(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "delinkcious.localrun", "--only", "user-manager", "--data-dir", str(tmp_path)],
        env=caller_env(**env),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def test_a_bad_setting_is_reported_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_once(tmp_path, USER_MANAGER_PORT=str(port))
    assert result.returncode == 2
    assert result.stderr == f"localrun: user-manager: port {port} (USER_MANAGER_PORT) is already in use\n"
    result = run_once(tmp_path, DELINKCIOUS_READY_TIMEOUT="soon")
    assert result.returncode == 2
    assert result.stderr == "localrun: DELINKCIOUS_READY_TIMEOUT='soon' is not a number of seconds\n"


def test_services_go_when_the_runner_is_killed_outright(runner: Runner) -> None:
    """SIGKILL gives the runner no chance to stop anything: the services must notice
    their parent is gone and stop by themselves."""
    service_pid = int(runner.until(r"^user-manager \| .*Started server process \[(\d+)\]").group(1))
    runner.until(r"curl -s http://")
    runner.proc.kill()
    runner.proc.wait(timeout=PATIENCE)
    deadline = time.monotonic() + 20
    while running(service_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(service_pid)
