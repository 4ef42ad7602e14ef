"""The runner's side of the fork server (forkserver.py): start it, have it fork a
service, and follow that service as a subprocess.Popen would be followed."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from delinkcious.localrun.procs import die_with_runner

# A child whose server died got SIGTERM from the kernel (its parent-death signal);
# its own exit code went with the server.
LOST = -signal.SIGTERM


class ForkUnavailable(RuntimeError):
    """The server cannot fork (it died, or it has threads): start the process anew."""


class ForkServer:
    def __init__(self, env: Mapping[str, str], say: Callable[[str], None]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._lock = threading.Lock()
        self._children: dict[int, ForkedProcess] = {}
        self._lost = False
        self._sealed = False
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "delinkcious.localrun.forkserver", str(theirs.fileno())],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(theirs.fileno(),),
            start_new_session=True,
            preexec_fn=die_with_runner(os.getpid()),
        )
        theirs.close()
        # Its own output (a warning at import, a crash) is the runner's to show.
        threading.Thread(target=self._relay, args=(say,), name="log-forkserver", daemon=True).start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _relay(self, say: Callable[[str], None]) -> None:
        assert self._proc.stdout is not None
        for raw in iter(self._proc.stdout.readline, b""):
            say(f"fork server: {raw.decode(errors='replace').rstrip()}")

    def spawn(self, module: str, args: list[str], env: Mapping[str, str]) -> ForkedProcess:
        """Forks `python -m module *args` with `env`; raises ForkUnavailable."""
        if self._lost:
            raise ForkUnavailable("the fork server is gone")
        if self._sealed:
            raise ForkUnavailable("the fork server was sealed once every service had started")
        read_end, write_end = os.pipe()
        message = json.dumps({"fork": module, "args": args, "env": dict(env)}).encode()
        with self._lock:
            try:
                try:
                    socket.send_fds(self._sock, [message], [write_end])
                except OSError as exc:
                    raise ForkUnavailable(f"the fork server is gone ({exc})") from None
                finally:
                    os.close(write_end)
                reply = self._next_reply(None)
            except BaseException:
                os.close(read_end)
                raise
            if "forked" not in reply:
                os.close(read_end)
                raise ForkUnavailable(reply.get("error", "the fork server is gone"))
            child = ForkedProcess(self, reply["forked"], os.fdopen(read_end, "rb"), [module, *args])
            self._children[child.pid] = child
        return child

    def seal(self) -> None:
        """No more forks: the server drops its preloaded libraries (it execs a small
        loop that only follows its children), and a later spawn raises ForkUnavailable."""
        with self._lock:
            if self._sealed or self._lost:
                return
            self._sealed = True
            try:
                self._sock.send(json.dumps({"seal": True}).encode())
            except OSError:
                self._server_lost()

    def pump(self, timeout: float | None) -> None:
        """Takes in the exits reported within `timeout` seconds (0: only those waiting)."""
        with self._lock:
            self._next_reply(timeout, exits_only=True)

    def _next_reply(self, timeout: float | None, exits_only: bool = False) -> dict[str, Any]:
        """Reads messages, recording exits, until a reply to a fork (returned) or, with
        exits_only, until nothing more arrives within `timeout`. Holds the lock."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._lost:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self._sock], [], [], wait)
            if not readable:
                return {}
            try:
                data = self._sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                self._server_lost()
                break
            message = json.loads(data)
            if "exited" not in message:
                if exits_only:
                    continue  # a reply nobody waits for (cannot happen: forks hold the lock)
                return dict(message)
            child = self._children.pop(message["exited"], None)
            if child is not None:
                child.returncode = message["code"]
            self._sock.send(json.dumps({"reap": message["exited"]}).encode())
            if exits_only:
                deadline = time.monotonic()  # got one: take in what else is waiting, then return
        return {}

    def _server_lost(self) -> None:
        self._lost = True
        for child in self._children.values():
            child.returncode = LOST
        self._children.clear()

    def close(self) -> None:
        """Hangs up (the server then exits) and waits for it."""
        with self._lock:
            self._sock.close()
            self._lost = True
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()


class ForkedProcess:
    """A forked service, followed as subprocess.Popen follows a child."""

    def __init__(self, server: ForkServer, pid: int, stdout: IO[bytes], args: list[str]) -> None:
        self._server = server
        self._pid = pid
        self._stdout = stdout
        self.args = args
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def stdout(self) -> IO[bytes] | None:
        return self._stdout

    def poll(self) -> int | None:
        if self.returncode is None:
            self._server.pump(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            self._server.pump(0.5 if left is None else min(left, 0.5))
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:  # reported exited: its pid may be another process's now
            os.kill(self._pid, sig)
