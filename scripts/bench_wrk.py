"""Closed-loop load with wrk (the Debian package): a fixed number of connections, each
sending its next request as soon as the last one is answered, for a fixed time.
scripts/wrk/request.lua rotates users, makes every POST body unique and can mix calls."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).with_name("wrk") / "request.lua"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is missing: `make bench` installs it (apt-get install wrk)")
    return found


def run_wrk(
    base_url: str,
    method: str,
    path: str,
    tokens: list[str],
    connections: int,
    seconds: float,
    mix: list[tuple[str, str, int]] | None = None,
) -> WrkResult:
    """`mix`, when given, replaces method and path: (method, path, weight) calls, each
    taking its weight's share of the requests."""
    env = {
        **os.environ,
        "BENCH_METHOD": method,
        "BENCH_PATH": path,
        "BENCH_TOKENS": ",".join(tokens),
        # Unique per run: wrk's random numbers repeat from run to run, and a URL saved
        # twice by one user is an update, not a new link.
        "BENCH_POST_PREFIX": f"https://example.com/wrk/{uuid.uuid4().hex[:10]}/",
        "BENCH_MIX": ";".join(f"{m} {p} {w}" for m, p, w in mix or []),
    }
    out = subprocess.run(
        [wrk_path(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(LUA),
         base_url + path],
        env=env, capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        status_errors=data["status_errors"],
        socket_errors=data["socket_errors"],
    )
