"""`make run`: start the local system, show where it listens, stop it on Ctrl-C.

Exit code 0 after a requested stop; 1 when a service fails to start or dies
while running, or another run holds the data folder; 2 for bad settings.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from delinkcious.localrun.catalog import SERVICES
from delinkcious.localrun.lock import AlreadyRunning
from delinkcious.localrun.plan import PlanError
from delinkcious.localrun.secretfile import SecretsFileError
from delinkcious.localrun.system import LocalSystem, StartupError, StopRequested


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m delinkcious.localrun", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.name for s in SERVICES],
        help="start only this service (repeatable); default: all",
    )
    parser.add_argument("--data-dir", help="data folder (default: $DELINKCIOUS_DATA_DIR or .data)")
    return parser.parse_args(argv)


def summary(system: LocalSystem, urls: dict[str, str]) -> list[str]:
    width = max(len(n) for n in [*urls, "service"])
    url_width = max(len(u) for u in [*urls.values(), "url"])
    lines = ["", f"Delinkcious is running. Data: {system.data_dir}. Ctrl-C stops it.", ""]
    lines.append(f"  {'service':<{width}}  {'url':<{url_width}}  readiness check")
    for spec in system.specs:
        check = f"curl -s {spec.ready_url}" if spec.ready_url and spec.ready_url.startswith("http") else ""
        lines.append(f"  {spec.name:<{width}}  {spec.url:<{url_width}}  {check}".rstrip())
    lines.append("")
    gateway = urls.get("api-gateway")
    if gateway:
        lines += quickstart(gateway)
    return lines


def quickstart(gateway: str) -> list[str]:
    """The web address first, then copy-paste commands: log in, save a link, follow
    someone, read the news."""
    json_header = "-H 'Content-Type: application/json'"
    login = f"curl -s -X POST {gateway}/login/dev {json_header} -d"
    token = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    return [
        f"Open Delinkcious in your browser: {gateway}/  (sign in with any username)",
        f"API docs: {gateway}/docs",
        "",
        "Try it (development login is on locally):",
        f'  ALICE=$({login} \'{{"username": "alice"}}\' | {token})',
        f'  BOB=$({login} \'{{"username": "bob"}}\' | {token})',
        f'  curl -s -X POST {gateway}/v1/following -H "Authorization: Bearer $BOB" {json_header}'
        ' -d \'{"followed": "alice"}\'',
        f'  curl -s -X POST {gateway}/v1/links -H "Authorization: Bearer $ALICE" {json_header}'
        ' -d \'{"url": "https://example.com", "tags": ["demo"]}\'',
        f'  curl -s {gateway}/v1/links -H "Authorization: Bearer $ALICE"',
        f'  curl -s {gateway}/v1/news -H "Authorization: Bearer $BOB"',
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        system = LocalSystem(args.data_dir, only=args.only)
    except PlanError as exc:
        print(f"localrun: {exc}", file=sys.stderr)
        return 2

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not system.stop_requested:
            system.printer.say(f"{signal.Signals(signum).name} received, stopping")
        system.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        urls = system.start()
    except AlreadyRunning as exc:
        print(f"localrun: {exc}", file=sys.stderr)
        return 1
    except (PlanError, SecretsFileError) as exc:
        print(f"localrun: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"localrun: {exc}", file=sys.stderr)
        return 1
    except StopRequested:
        return 0
    system.printer.plain(summary(system, urls))
    exited = system.wait()
    if exited is not None:
        code = system.returncode(exited)
        system.printer.say(f"{exited} exited unexpectedly (code {code}); stopping the others")
        system.stop()
        return 1
    system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
