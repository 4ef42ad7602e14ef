"""Benchmarks of the whole local system (what `make bench` runs).

Starts every process through LocalSystem (as `make run` does) on free ports with its
own NATS and Redis, then measures through the gateway's public API:
  - read and write throughput and latency percentiles at a fixed concurrency,
  - end-to-end news latency: from a link's 201 to its event in a follower's feed,
  - resident memory of each process after the load.
Prints a Markdown report (and writes it to --out) with the machine it ran on.
Load goes to 127.0.0.1 only and is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from delinkcious.localrun import LocalSystem
from scripts import bench_import
from tests.servers import NatsServer, RedisServer, isolated_system_env


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def load(
    client: httpx.AsyncClient, make_request: Request, seconds: float, concurrency: int, max_requests: int
) -> tuple[int, float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors, sent
        while time.monotonic() < deadline and sent < max_requests:
            sent += 1
            started = time.perf_counter()
            response = await make_request(client, sent)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                errors += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), time.monotonic() - started, latencies, errors


def cpu_model() -> str | None:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def run(seconds: float, concurrency: int) -> str:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    env = isolated_system_env(nats, redis, LOG_LEVEL="WARNING")
    data = Path(tempfile.mkdtemp(prefix="dlk-bench-"))
    system = LocalSystem(data, env=env, out=io.StringIO())
    urls = system.start()
    gateway = urls["api-gateway"]
    rows: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=gateway, timeout=30) as anon:
            tokens = {}
            for name in ("author", "reader"):
                r = await anon.post("/login/dev", json={"username": f"bench-{name}"})
                tokens[name] = r.json()["access_token"]
        author = {"Authorization": f"Bearer {tokens['author']}"}
        reader = {"Authorization": f"Bearer {tokens['reader']}"}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as client:
            await client.post("/v1/following", json={"followed": "bench-author"}, headers=reader)

            async def write(c: httpx.AsyncClient, i: int) -> httpx.Response:
                return await c.post("/v1/links", json={"url": f"https://example.com/b/{i}"}, headers=author)

            async def read(c: httpx.AsyncClient, i: int) -> httpx.Response:
                return await c.get("/v1/links", params={"page_size": 20}, headers=author)

            for label, fn in (("POST /v1/links", write), ("GET /v1/links (page of 20)", read)):
                count, elapsed, lat, errors = await load(client, fn, seconds, concurrency, 9000)
                rows.append(
                    f"| {label} | {concurrency} | {count / elapsed:.0f} | "
                    f"{percentile(lat, 50) * 1000:.1f} | {percentile(lat, 95) * 1000:.1f} | "
                    f"{percentile(lat, 99) * 1000:.1f} | {errors} |"
                )

            # End-to-end news latency, one link at a time (no queue in front of it).
            feed_latencies = []
            for i in range(30):
                url = f"https://example.com/latency/{i}"
                await client.post("/v1/links", json={"url": url}, headers=author)
                started = time.perf_counter()
                while True:
                    events = (await client.get("/v1/news", params={"page_size": 5}, headers=reader)).json()
                    if "events" not in events:
                        raise RuntimeError(f"news failed: {events}")
                    if any(e["url"] == url for e in events["events"]):
                        break
                    if time.perf_counter() - started > 10:
                        raise RuntimeError("news did not arrive within 10 s")
                    await asyncio.sleep(0.005)
                feed_latencies.append(time.perf_counter() - started)
        memory = {name: rss_mib(pid) for name, pid in system.pids.items()}
    finally:
        system.stop()
        nats.close()
        redis.close()

    cpu = platform.processor() or platform.machine()
    model = cpu_model() or cpu
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    lines = [
        f"Machine: {model}, {os.cpu_count()} cores, {mem_total:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; SQLite databases, every process "
        f"on this one machine (the local run). Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "| request | concurrency | requests/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"News latency (link saved → in a follower's feed, polled every 5 ms, n={len(feed_latencies)}): "
        f"median {statistics.median(feed_latencies) * 1000:.0f} ms, "
        f"max {max(feed_latencies) * 1000:.0f} ms.",
        "",
        "| process | resident memory after the load (MiB) |",
        "| --- | --- |",
        *[f"| {name} | {mib:.0f} |" for name, mib in memory.items()],
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--skip-import", action="store_true", help="leave out the import benchmark")
    args = parser.parse_args()
    report = asyncio.run(run(args.seconds, args.concurrency))
    if not args.skip_import:
        report += "\n\n" + asyncio.run(bench_import.report())
    print(report)
    if args.out:
        header = (
            "# Benchmarks\n\n"
            "Written by `make bench` (scripts/bench.py): the whole system started as `make run` starts it,\n"
            f"loaded through the gateway for {args.seconds:g} s per request type at a concurrency of "
            f"{args.concurrency}.\nNumbers from one machine; compare runs on the same machine only.\n\n"
        )
        args.out.write_text(header + report + "\n")


if __name__ == "__main__":
    main()
