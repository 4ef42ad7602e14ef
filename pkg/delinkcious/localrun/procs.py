"""Process-group signalling and checks: a service is its whole process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

_PROC = Path("/proc")


def signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The child leads its own group (start_new_session), so its PID is the group ID.
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        # No such group (the child left it): signal the child itself, if still there.
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)


def group_alive(pgid: int) -> bool:
    """Whether a process other than a zombie is still in group `pgid`. Zombies are
    left out: they run nothing, and an orphan's zombie is reaped by init, not us."""
    if not _PROC.is_dir():  # no /proc (macOS): any member, zombie or not, counts
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _ppid, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # it exited while we looked
        if int(group) == pgid and state not in ("Z", "X"):
            return True
    return False


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """SIGKILL takes effect asynchronously; wait (bounded) until it has."""
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
