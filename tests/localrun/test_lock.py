"""One local run per data folder; a second one is refused at once, naming the first."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from delinkcious.localrun import AlreadyRunning, LocalSystem
from delinkcious.localrun.lock import RunLock
from tests.localrun.helpers import caller_env, pinned_ports

HOLDER = """
import sys
from pathlib import Path
from delinkcious.localrun.lock import RunLock
RunLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the data folder's lock until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "run.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_a_second_lock_is_refused_with_the_holders_pid(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(AlreadyRunning, match=f"PID {holder.pid}") as caught:
        RunLock(tmp_path / "run.lock").acquire()
    assert caught.value.pid == holder.pid


def test_the_lock_is_free_again_once_its_holder_exits(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    release(holder)
    lock = RunLock(tmp_path / "run.lock")
    lock.acquire()
    assert lock.held
    lock.release()
    assert not lock.held


def test_a_second_local_system_on_the_same_folder_starts_nothing(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    system = LocalSystem(tmp_path, env=caller_env(**pinned_ports()), only={"user-manager"}, out=io.StringIO())
    with pytest.raises(AlreadyRunning, match=f"already running from {tmp_path}.*PID {holder.pid}"):
        system.start()
    assert system.pids == {}
    assert not (tmp_path / "secrets.json").exists()
