"""A stand-in service for runner tests: serves /readyz on HOST:PORT like a real one.

Flags make it misbehave in the ways the runner must handle:
  --exit CODE      print a line and exit at once with CODE
  --not-ready      answer /readyz with 503 forever
  --ignore-term    ignore SIGTERM (the runner must escalate to SIGKILL)
  --grandchild     start a long-lived process in the same process group
  --stubborn-grandchild   the same, but the grandchild ignores SIGTERM
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit", type=int)
    parser.add_argument("--not-ready", action="store_true")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--grandchild", action="store_true")
    parser.add_argument("--stubborn-grandchild", action="store_true")
    args = parser.parse_args()

    if args.exit is not None:
        print("fake: configuration is broken, giving up", flush=True)
        sys.exit(args.exit)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.grandchild or args.stubborn_grandchild:
        ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN); " if args.stubborn_grandchild else ""
        subprocess.Popen([sys.executable, "-c", f"import signal, time; {ignore}time.sleep(3600)"])

    status = 503 if args.not_ready else 200

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *_: object) -> None:  # keep the output to our own lines
            pass

    server = ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler)
    print(f"fake: listening on {os.environ['PORT']} as {os.getpid()}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
