"""A stand-in service for runner tests: serves /readyz on HOST:PORT like a real one.

Flags make it misbehave in the ways the runner must handle:
  --exit CODE      print a line and exit at once with CODE
  --not-ready      answer /readyz with 503 forever
  --ready-after S  answer /readyz with 503 for the first S seconds (a slow start)
  --ignore-term    ignore SIGTERM (the runner must escalate to SIGKILL)
  --grandchild     start a long-lived process in the same process group
  --stubborn-grandchild   the same, but the grandchild ignores SIGTERM
  --reach-on-term VAR     on SIGTERM, wait a moment, then say whether the server at
                          the URL in $VAR still accepts connections
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def report_reach(var: str) -> None:
    # Long enough for a server signalled at the same moment to have exited.
    time.sleep(0.5)
    url = urlsplit(os.environ[var])
    try:
        socket.create_connection((url.hostname or "", url.port or 0), timeout=2).close()
        print(f"fake: {var} still reachable at shutdown", flush=True)
    except OSError:
        print(f"fake: {var} gone at shutdown", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit", type=int)
    parser.add_argument("--not-ready", action="store_true")
    parser.add_argument("--ready-after", type=float, default=0.0)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--grandchild", action="store_true")
    parser.add_argument("--stubborn-grandchild", action="store_true")
    parser.add_argument("--reach-on-term", metavar="VAR")
    args = parser.parse_args()

    if args.exit is not None:
        print("fake: configuration is broken, giving up", flush=True)
        sys.exit(args.exit)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:

        def on_term(*_: object) -> None:
            if args.reach_on_term:
                report_reach(args.reach_on_term)
            sys.exit(0)

        signal.signal(signal.SIGTERM, on_term)
    if args.grandchild or args.stubborn_grandchild:
        ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN); " if args.stubborn_grandchild else ""
        subprocess.Popen([sys.executable, "-c", f"import signal, time; {ignore}time.sleep(3600)"])

    ready_at = time.monotonic() + args.ready_after

    def readiness() -> int:
        return 503 if args.not_ready or time.monotonic() < ready_at else 200

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(readiness() if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *_: object) -> None:  # keep the output to our own lines
            pass

    server = ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler)
    print(f"fake: listening on {os.environ['PORT']} as {os.getpid()}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
