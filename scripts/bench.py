"""Benchmarks of the whole local system (what `make bench` runs).

Starts every process through LocalSystem (as `make run` does) on free ports with its
own NATS and Redis, then measures through the gateway's public API:
  - read and write throughput and latency percentiles at a fixed concurrency,
  - end-to-end news latency: from a link's 201 to its event in a follower's feed,
  - closed-loop throughput with wrk against the same calls and against a bare one-hop
    FastAPI app (scripts/bench_baseline.py) run alongside, every figure as a ratio to it,
  - resident memory of each process idle after start and after the load,
  - what the replicas' shared rate limiter (one Redis round trip) costs a request,
    next to the in-memory one, in the same run.
Prints a Markdown report (and writes it to --out) with the machine it ran on.
Load goes to 127.0.0.1 only and is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from api_gateway.ratelimit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from api_gateway.shared_state import SharedState
from delinkcious.localrun import LocalSystem
from scripts import bench_import
from scripts.bench_baseline import baseline_server
from scripts.bench_wrk import WrkResult, closed_loop_rows, run_wrk
from tests.servers import NatsServer, RedisServer, free_port, isolated_system_env


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


# --- Closed loop with wrk, next to the bare one-hop baseline -------------------------
BARE_HOP = "bare hop: FastAPI + uvicorn, fixed page of 20"
WRK_USERS = 16
LINKS_PER_USER = 20
WRK_CONNECTIONS = (16, 32)


async def wrk_users(client: httpx.AsyncClient, author: str) -> list[str]:
    """Tokens of WRK_USERS users who each follow `author` (so each has a full news page)
    and have saved LINKS_PER_USER links (so each lists a full page)."""

    async def user(i: int) -> str:
        r = await client.post("/login/dev", json={"username": f"bench-wrk-{i}"})
        token = r.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        await client.post("/v1/following", json={"followed": author}, headers=auth)
        for n in range(LINKS_PER_USER):
            await client.post("/v1/links", json={"url": f"https://example.com/u{i}/{n}"}, headers=auth)
        return token

    return list(await asyncio.gather(*(user(i) for i in range(WRK_USERS))))


def closed_loop(gateway: str, bare_url: str, tokens: list[str], seconds: float) -> list[str]:
    """The bare hop and each gateway call, alternating, at each connection count."""
    calls = (
        ("GET /v1/links (page of 20)", "GET", "/v1/links?page_size=20"),
        ("GET /v1/news (page of 20)", "GET", "/v1/news?page_size=20"),
        ("POST /v1/links", "POST", "/v1/links"),
    )
    results: dict[tuple[str, int], WrkResult] = {}
    for connections in WRK_CONNECTIONS:
        results[(BARE_HOP, connections)] = run_wrk(bare_url, "GET", "/v1/links", [], connections, seconds)
        for label, method, path in calls:
            results[(label, connections)] = run_wrk(gateway, method, path, tokens, connections, seconds)
    return [
        f"Closed loop (wrk -t1, {seconds:g} s a run, runs alternating; {len(tokens)} users, "
        "requests rotating over them):",
        "",
        *closed_loop_rows(results, BARE_HOP),
    ]


async def limiter_cost(redis_url: str, checks: int = 3000) -> tuple[float, float]:
    """Seconds per check, one at a time, of the shared (Redis) and the in-memory rate
    limiter, with limits no check reaches."""
    shared = SharedState(redis_url)
    limiters: tuple[RateLimiter, RateLimiter] = (
        RedisRateLimiter(shared, 1e9, 10**9),
        InMemoryRateLimiter(1e9, 10**9),
    )
    costs = []
    try:
        for limiter in limiters:
            for i in range(200):  # warm up: connection, script cache
                await limiter.check(f"bench-warm-{i % 10}")
            started = time.perf_counter()
            for i in range(checks):
                await limiter.check(f"bench-{i % 100}")
            costs.append((time.perf_counter() - started) / checks)
    finally:
        await shared.aclose()
    return costs[0], costs[1]


async def run(seconds: float, concurrency: int) -> str:
    load_at_start = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    # The local run's own log level (INFO: one access line per request), as users run it.
    env = isolated_system_env(nats, redis)
    data = Path(tempfile.mkdtemp(prefix="dlk-bench-"))
    system = LocalSystem(data, env=env, out=io.StringIO())
    urls = system.start()
    gateway = urls["api-gateway"]
    rows: list[str] = []
    bare = baseline_server(free_port())
    try:
        bare_url, bare_pid = bare.__enter__()
        await asyncio.sleep(2)  # let start-up settle before reading idle memory
        idle_memory = {name: rss_mib(pid) for name, pid in system.pids.items()}
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

            async def bare_read(c: httpx.AsyncClient, i: int) -> httpx.Response:
                return await c.get(f"{bare_url}/v1/links")

            bare_rate = 0.0
            for label, fn in (
                (BARE_HOP, bare_read),
                ("POST /v1/links", write),
                ("GET /v1/links (page of 20)", read),
            ):
                count, elapsed, lat, errors = await load(client, fn, seconds, concurrency, 9000)
                bare_rate = bare_rate or count / elapsed
                rate = count / elapsed
                rows.append(
                    f"| {label} | {concurrency} | {rate:.0f} | {rate / bare_rate:.1%} | "
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
            read_p50 = percentile(lat, 50)  # the last load: GET /v1/links
            loop_tokens = await wrk_users(client, "bench-author")
        memory = {name: rss_mib(pid) for name, pid in system.pids.items()}
        loop_lines = closed_loop(gateway, bare_url, loop_tokens, seconds)
        bare_rss = rss_mib(bare_pid)
        shared_check, local_check = await limiter_cost(redis.url)
    finally:
        bare.__exit__(None, None, None)
        system.stop()
        nats.close()
        redis.close()

    cpu = platform.processor() or platform.machine()
    model = cpu_model() or cpu
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    lines = [
        f"Machine: {model}, {os.cpu_count()} cores, {mem_total:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; SQLite databases, every process "
        f"on this one machine (the local run); load average at the start {load_at_start}. "
        f"Date: {time.strftime('%Y-%m-%d')}.",
        "",
        "Python client (httpx, one process):",
        "",
        "| request | concurrency | requests/s | of bare hop | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"News latency (link saved → in a follower's feed, polled every 5 ms, n={len(feed_latencies)}): "
        f"median {statistics.median(feed_latencies) * 1000:.0f} ms, "
        f"max {max(feed_latencies) * 1000:.0f} ms.",
        "",
        *loop_lines,
        "",
        "| process | resident memory idle after start (MiB) | after the load (MiB) |",
        "| --- | --- | --- |",
        *[f"| {name} | {mib:.0f} | {memory.get(name, math.nan):.0f} |" for name, mib in idle_memory.items()],
        f"| all services | {sum(idle_memory.values()):.0f} | {sum(memory.values()):.0f} |",
        f"| bare hop (one process) | | {bare_rss:.0f} |",
        "",
        "Rate limit check, one at a time: shared (GCRA in Redis, one round trip) "
        f"{shared_check * 1e6:.0f} µs, in-memory {local_check * 1e6:.1f} µs, "
        f"{shared_check / local_check:.0f} times as much; the shared one adds "
        f"{(shared_check - local_check) * 1e6:.0f} µs, {(shared_check - local_check) / read_p50:.2%} "
        "of a GET /v1/links at its p50 above.",
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
            f"{args.concurrency}, then with wrk.\nNumbers from one machine, which other work may share: "
            "the ratios to the bare hop measured\nin the same run with the same client are what "
            "compare across runs.\n\n"
        )
        write_report(args.out, header + report + "\n")


# The generated part of the report file sits between these; what is outside them
# (analyses, profiles, earlier figures) is kept from run to run.
BEGIN, END = "<!-- make bench: begin -->", "<!-- make bench: end -->"


def write_report(path: Path, generated: str) -> None:
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        before, rest = old.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        path.write_text(f"{before}{BEGIN}\n{generated}{END}{after}")
    else:
        path.write_text(f"{BEGIN}\n{generated}{END}\n")


if __name__ == "__main__":
    main()
