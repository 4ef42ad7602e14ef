"""The services' output, interleaved on one terminal and still readable: every
line carries its service's name, coloured on a terminal, and the services' JSON
log lines are shown as `LEVEL message key=value`."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from typing import Any, TextIO

RUNNER = "localrun"
_COLOURS = ("36", "35", "33", "32", "34", "91", "96", "95", "93", "92")
_HIDDEN = frozenset({"time", "level", "logger", "message", "service", "taskName", "color_message"})
_MULTILINE = ("exc_info", "stack_info")


def wants_colour(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


def render(line: str) -> list[str]:
    """A service's JSON log line in a readable form; any other line unchanged."""
    if not line.startswith("{"):
        return [line]
    try:
        record: Any = json.loads(line)
    except ValueError:
        return [line]
    if not isinstance(record, dict) or "message" not in record:
        return [line]
    extras = " ".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v)}"
        for k, v in record.items()
        if k not in _HIDDEN and k not in _MULTILINE
    )
    head = f"{record.get('level', ''):<7} {record['message']}" + (f"  {extras}" if extras else "")
    tail = [ln for k in _MULTILINE if isinstance(record.get(k), str) for ln in record[k].splitlines()]
    return [head, *tail]


class Printer:
    """Writes whole lines from many threads without interleaving them."""

    def __init__(self, out: TextIO, names: Iterable[str], colour: bool | None = None) -> None:
        self._out = out
        # Reentrant: the runner's signal handler prints from the main thread, which
        # may be inside line() already when the signal arrives.
        self._lock = threading.RLock()
        names = [RUNNER, *names]
        self._width = max(len(n) for n in names)
        self._colour = wants_colour(out) if colour is None else colour
        self._codes = {n: _COLOURS[i % len(_COLOURS)] for i, n in enumerate(names[1:])}
        self._codes[RUNNER] = "1"

    def _prefix(self, name: str) -> str:
        label = f"{name:<{self._width}} |"
        if self._colour:
            return f"\033[{self._codes.get(name, '0')}m{label}\033[0m "
        return label + " "

    def line(self, name: str, text: str) -> None:
        with self._lock:
            self._out.write(self._prefix(name) + text + "\n")
            self._out.flush()

    def say(self, text: str) -> None:
        """A message from the runner itself."""
        self.line(RUNNER, text)

    def plain(self, lines: Iterable[str]) -> None:
        with self._lock:
            self._out.write("".join(f"{ln}\n" for ln in lines))
            self._out.flush()
