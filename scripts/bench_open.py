"""Open-loop load at a fixed rate, as wrk2 does: every request has a send time fixed in
advance (start + i / rate), and its latency is measured from that scheduled time, not
from when it was actually sent. A server that falls behind therefore shows its queue in
the latency instead of slowing the generator down (no coordinated omission).

The generator runs in worker processes of its own (`python -m scripts.bench_open`, a
JSON job on stdin, a JSON result on stdout), each taking every n-th slot of the one
schedule, so its CPU time is measured apart from the benchmark's and, when one process
could not keep up, the work is spread. Its achieved send rate, how late it sent, and its
own CPU are reported next to the figures, to show it was not the bottleneck.

As wrk2 calibrates before it records, the first WARMUP_SECONDS of a run are sent at the
same rate but not timed: the caches a running system keeps warm (the gateway's token
cache, a pool's connections) are cold after the idle wait before a run, and the run is
meant to measure the steady state at its rate. Their answers still count: a refused
request in the warm-up is a failure of the run.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# One worker process per this many requests/s (each one stays well below what a single
# Python process with uvloop and aiohttp can send); at most one per core.
RATE_PER_WORKER = 700.0
CONNECTIONS = 256  # per worker: enough that a queue forms at the server, not here
TIMEOUT = 10.0
WARMUP_SECONDS = 2.0


@dataclass(frozen=True)
class Call:
    label: str
    method: str
    path: str
    weight: int = 1

    @property
    def posts(self) -> bool:
        return self.method == "POST"


def interleave(weights: list[int]) -> list[int]:
    """One cycle of indexes, each appearing weight times, spread evenly (smooth weighted
    round robin): weights [6, 3, 1] give a cycle of 10 with no long run of one kind."""
    total = sum(weights)
    current = [0] * len(weights)
    cycle = []
    for _ in range(total):
        current = [c + w for c, w in zip(current, weights, strict=True)]
        best = max(range(len(weights)), key=lambda i: current[i])
        current[best] -= total
        cycle.append(best)
    return cycle


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def workers_for(rate: float) -> int:
    return max(1, min(os.cpu_count() or 1, math.ceil(rate / RATE_PER_WORKER)))


@dataclass
class OpenResult:
    target_rate: float
    seconds: float  # timed, the warm-up not included
    workers: int
    warmup_seconds: float = 0.0
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    late_ms: list[float] = field(default_factory=list)  # actual send time - scheduled send time
    send_span: float = 0.0  # first to last actual send, seconds
    cpu_seconds: float = 0.0  # the generator's own user + system CPU

    @property
    def all_latencies(self) -> list[float]:
        return [v for values in self.latencies_ms.values() for v in values]

    @property
    def achieved_rate(self) -> float:
        return (self.sent - 1) / self.send_span if self.send_span > 0 and self.sent > 1 else 0.0

    @property
    def failures(self) -> int:
        """Answers other than 2xx, and requests that got no answer."""
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))

    @property
    def cpu_share(self) -> float:
        """The generator's CPU as a share of one core over the run."""
        sending = self.seconds + self.warmup_seconds
        return self.cpu_seconds / sending if sending else 0.0

    def summary(self) -> str:
        lat = self.all_latencies
        return (
            f"target {self.target_rate:.0f}/s, sent {self.achieved_rate:.0f}/s ({self.sent} requests, "
            f"{len(lat)} timed after {self.warmup_seconds:g} s of warm-up), "
            f"p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms, "
            f"max {max(lat, default=math.nan):.1f} ms, non-2xx or no answer {self.failures}; "
            f"generator: {self.workers} process(es), {self.cpu_share:.0%} of a core, sent at most "
            f"{max(self.late_ms, default=0):.1f} ms late (p99 {percentile(self.late_ms, 99):.1f} ms)"
        )


def run_open_loop(
    base_url: str,
    calls: list[Call],
    tokens: list[str],
    rate: float,
    seconds: float,
    tag: str,
    warmup: float = WARMUP_SECONDS,
) -> OpenResult:
    """Sends `rate` requests a second for `warmup` + `seconds`, the calls mixed by their
    weights, rotating over `tokens`, and times those of the last `seconds`; each POST
    saves a new URL under https://example.com/open/<tag>-<random>/."""
    workers = workers_for(rate)
    untimed = int(rate * warmup)
    total = untimed + max(1, int(rate * seconds))
    job = {
        "base_url": base_url,
        "calls": [[c.label, c.method, c.path, c.weight] for c in calls],
        "tokens": tokens,
        "rate": rate,
        "total": total,
        "untimed": untimed,
        "workers": workers,
        "tag": f"{tag}-{uuid.uuid4().hex[:8]}",  # a URL saved again would be an update
    }
    procs = []
    for index in range(workers):
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.bench_open"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({**job, "index": index}) + "\n")
        proc.stdin.flush()
        procs.append(proc)
    # Each worker says when it has started and opened its connections; then all get
    # the same start time (CLOCK_MONOTONIC is the same clock in every process).
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("an open-loop worker did not start")
    start_at = time.monotonic() + 0.1
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{start_at}\n")
        proc.stdin.close()
    result = OpenResult(
        target_rate=rate, seconds=(total - untimed) / rate, workers=workers, warmup_seconds=untimed / rate
    )
    first, last = math.inf, -math.inf
    for proc in procs:
        assert proc.stdout is not None
        out = proc.stdout.read()
        if proc.wait(timeout=TIMEOUT + 60) != 0:
            raise RuntimeError(f"open-loop worker failed with code {proc.returncode}")
        data = json.loads(out)
        for label, values in data["latencies_ms"].items():
            result.latencies_ms.setdefault(label, []).extend(values)
        result.statuses.update(data["statuses"])
        result.sent += data["sent"]
        result.late_ms += data["late_ms"]
        result.cpu_seconds += data["cpu_seconds"]
        first, last = min(first, data["first_send"]), max(last, data["last_send"])
    result.send_span = last - first if result.sent > 1 else 0.0
    return result


# --- the worker process ------------------------------------------------------------


async def _work(job: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    calls = [Call(*c) for c in job["calls"]]
    cycle = interleave([c.weight for c in calls])
    tokens = [f"Bearer {t}" for t in job["tokens"]]
    rate, index, stride = job["rate"], job["index"], job["workers"]
    latencies: dict[str, list[float]] = {c.label: [] for c in calls}
    statuses: Counter[str] = Counter()
    late: list[float] = []
    sends: list[float] = []
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    session = aiohttp.ClientSession(base_url=job["base_url"], connector=connector, timeout=timeout)
    async with session:

        async def one(i: int, scheduled: float) -> None:
            call = calls[cycle[i % len(cycle)]]
            headers = {"Authorization": tokens[i % len(tokens)]} if tokens else {}
            body = {"url": f"https://example.com/open/{job['tag']}/{i}"} if call.posts else None
            try:
                async with session.request(call.method, call.path, json=body, headers=headers) as response:
                    await response.read()
                    statuses[str(response.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
            if i >= job["untimed"]:
                latencies[call.label].append((time.monotonic() - scheduled) * 1000)

        # Open the connections before the clock starts, as a warm server would have them.
        warm = [session.get("/readyz") for _ in range(min(CONNECTIONS, 32))]
        for response in await asyncio.gather(*warm, return_exceptions=True):
            if isinstance(response, aiohttp.ClientResponse):
                response.release()
        print("ready", flush=True)
        start_at = float(await asyncio.to_thread(sys.stdin.readline))
        cpu_before = time.process_time()
        tasks = []
        for i in range(index, job["total"], stride):
            scheduled = start_at + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            late.append(max(0.0, now - scheduled) * 1000)
            sends.append(now)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
        cpu = time.process_time() - cpu_before
    return {
        "latencies_ms": latencies,
        "statuses": dict(statuses),
        "sent": len(sends),
        "late_ms": late,
        "first_send": sends[0] if sends else 0.0,
        "last_send": sends[-1] if sends else 0.0,
        "cpu_seconds": cpu,
    }


def main() -> None:
    job = json.loads(sys.stdin.readline())
    import uvloop  # the client's own cost per request is what keeps it off the bottleneck

    print(json.dumps(uvloop.run(_work(job))))


if __name__ == "__main__":
    main()
