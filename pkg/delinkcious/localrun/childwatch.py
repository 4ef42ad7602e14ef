"""Following the forked services for the runner: each exit reported, each child reaped
once the runner has read its code (the protocol is forkserver.py's).

The fork server runs this loop while it forks. Once the runner has every service
forked, it seals the server, which then execs this file as a script of its own
(`python -I -S childwatch.py FD PID...`): the same process, so still the services'
parent, but holding none of the libraries it preloaded for them. Those pages stay
wherever a service still shares them, and the server's own copies (the pages every
service has since written to) are freed. Hence stdlib imports only.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
from typing import Any

MAX_MESSAGE = 1 << 20
SEALED = "the fork server has forked every service and now only follows them"


class ChildWatch:
    def __init__(self, sock: socket.socket, running: set[int] | None = None) -> None:
        self.sock = sock
        self.running = set(running or ())
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written

    def next_request(self) -> tuple[dict[str, Any], list[int]]:
        """Reports exits and takes reaps until the runner asks for something else: that
        request and the descriptors it came with. SystemExit(0) once it hangs up."""
        while True:
            # Exits first: a child may have ended before this loop ran (across the exec).
            self._report_exits()
            readable, _, _ = select.select([self.sock.fileno(), self._wake_r], [], [])
            if self._wake_r in readable:
                os.read(self._wake_r, 4096)
            if self.sock.fileno() not in readable:
                continue
            data, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, 1)
            if not data:
                raise SystemExit(0)  # the runner is done (its children were stopped first)
            request = json.loads(data)
            if "reap" in request:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(request["reap"], 0)
                continue
            return request, fds

    def _report_exits(self) -> None:
        for pid in sorted(self.running):
            try:
                status = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                status = None
                self.running.discard(pid)
            if status is not None:
                self.running.discard(pid)
                code = status.si_status if status.si_code == os.CLD_EXITED else -status.si_status
                self.send({"exited": pid, "code": code})

    def send(self, message: dict[str, Any]) -> None:
        self.sock.send(json.dumps(message).encode())

    def close_in_child(self) -> None:
        """In a freshly forked child: none of this is its own."""
        self.sock.close()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def exec_watcher(self) -> None:
        """Becomes this file run as a script, keeping the socket and the children.
        A child that exits meanwhile stays a zombie until the new loop reports it."""
        os.set_inheritable(self.sock.fileno(), True)
        signal.set_wakeup_fd(-1)
        sys.stdout.flush()
        sys.stderr.flush()
        argv = [sys.executable, "-I", "-S", os.path.abspath(__file__), str(self.sock.fileno())]
        try:
            os.execv(sys.executable, argv + [str(pid) for pid in sorted(self.running)])
        except OSError:
            signal.set_wakeup_fd(self._wake_w)  # still this loop's: exits must wake it
            raise


def main() -> None:
    watch = ChildWatch(socket.socket(fileno=int(sys.argv[1])), {int(pid) for pid in sys.argv[2:]})
    while True:
        request, fds = watch.next_request()
        for fd in fds:
            os.close(fd)
        if "fork" in request:
            watch.send({"error": SEALED})


if __name__ == "__main__":
    main()
