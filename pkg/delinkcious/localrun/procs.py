"""Process-group signalling and checks: a service is its whole process group."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

_PROC = Path("/proc")
# Loaded before any fork: the child between fork and exec should only make the call.
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


class Process(Protocol):
    """What the runner needs of a child: subprocess.Popen, or a forked service."""

    @property
    def pid(self) -> int: ...

    @property
    def stdout(self) -> IO[bytes] | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...


def signal_group(proc: Process, sig: signal.Signals) -> None:
    # The child leads its own group (start_new_session), so its PID is the group ID.
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        # No such group (the child left it): signal the child itself, if still there.
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)


def die_with_parent(parent_pid: int) -> None:
    """SIGTERM to this process when its parent dies, even by SIGKILL. (Linux sends it
    when the parent's thread that started this process ends.)"""
    if _LIBC is None:
        return
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the call took effect
        os._exit(1)


def die_with_runner(runner_pid: int) -> Callable[[], None] | None:
    """A preexec_fn: each child gets SIGTERM when the runner dies, so nothing is left
    behind (start the system from a thread that lives as long as it, as the runner's
    main thread)."""
    if _LIBC is None:
        return None
    return lambda: die_with_parent(runner_pid)


def set_command_line(argv: list[str]) -> None:
    """Rewrites what /proc/<pid>/cmdline (ps, pgrep -f) shows, within the room the
    original command line had: a forked service shows as the command it stands for."""
    if _LIBC is None:
        return
    try:
        fields = (_PROC / "self" / "stat").read_text().rsplit(")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end: proc(5) fields 48, 49
    except (OSError, ValueError, IndexError):
        return
    room = end - start
    if room <= 1:
        return
    text = "\0".join(argv).encode(errors="replace")[: room - 1]
    ctypes.memmove(start, text.ljust(room, b"\0"), room)


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
