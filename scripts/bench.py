"""Benchmarks of the whole local system (what `make bench` runs).

Starts the local run as `make run` does (`python -m delinkcious.localrun`: NATS, Redis
and the six services) on free ports, once on SQLite (its default) and once on fresh
Postgres databases, and measures through the gateway's public API, each figure next to
its goal (scripts/bench_goals.py):
  - closed-loop throughput with wrk against a bare one-hop FastAPI app
    (scripts/bench_baseline.py) run alongside, every figure as a ratio to it and as the
    multiple of linkding's that ratio implies,
  - open loop at fixed rates (scripts/bench_open.py, latency from each request's
    scheduled send time): a mix of news, lists and saves, and saves alone, at half of
    the maximum measured in closed loop,
  - saves refused under many concurrent writers,
  - feed propagation at a steady rate of saves, and fan-out to many followers
    (scripts/bench_feed.py),
  - memory of every process of the run, idle after start and after the load,
  - an httpx load, news latency one link at a time, and the shared rate limiter's cost.
Prints a Markdown report (and writes it to --out) with the machine and the databases,
a summary of the goals first. Load goes to 127.0.0.1 only and is bounded in time and
count; --seconds scales every timed part.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from api_gateway.ratelimit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from api_gateway.shared_state import SharedState
from scripts import bench_goals as goals
from scripts import bench_import
from scripts.bench_baseline import baseline_server
from scripts.bench_floor import two_hop_server
from scripts.bench_open import percentile
from scripts.bench_steps import (
    BARE_HOP,
    DATABASES,
    LIST,
    SAVE,
    Context,
    Section,
    closed_loop,
    fan,
    feed,
    guarded,
    memory_goals,
    memory_rows,
    mix,
    writers,
)
from scripts.bench_system import (
    IDLE_SHARE,
    IDLE_WINDOW,
    RunningSystem,
    database_urls,
    local_run,
    memory,
    resident_mb,
)
from tests.servers import free_port

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


def machine() -> str:
    model = cpu_model() or platform.processor() or platform.machine()
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    load_now = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"Machine: {model}, {os.cpu_count()} cores, {mem_total:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; every process on this one machine "
        f"(the local run); load average at the start {load_now}. Date: {time.strftime('%Y-%m-%d')}."
    )


# --- users and calls -----------------------------------------------------------------
# uvicorn closes a connection idle for 5 s, and httpx keeps one for 5 s by default: a
# request sent on a connection at that moment meets the close (httpx.ReadError) and a
# write is not retried. The bench's clients drop an idle connection after 1 s instead.
KEEPALIVE_SECONDS = 1.0
WRK_USERS = 64
LINKS_PER_USER = 20


async def wrk_users(client: httpx.AsyncClient, author: str, users: int = WRK_USERS) -> list[str]:
    """Tokens of `users` users who each follow `author` (so each has a full news page)
    and have saved LINKS_PER_USER links (so each lists a full page). Sixteen at a time:
    the seeding must not itself be a test of concurrent writers."""
    gate = asyncio.Semaphore(16)

    async def user(i: int) -> str:
        async with gate:
            r = await client.post("/login/dev", json={"username": f"bench-wrk-{i}"})
            r.raise_for_status()
            token = r.json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            (await client.post("/v1/following", json={"followed": author}, headers=auth)).raise_for_status()
            for n in range(LINKS_PER_USER):
                body = {"url": f"https://example.com/u{i}/{n}"}
                (await client.post("/v1/links", json=body, headers=auth)).raise_for_status()
            return str(token)

    return list(await asyncio.gather(*(user(i) for i in range(users))))


# --- one database --------------------------------------------------------------------


@dataclass
class Options:
    seconds: float
    concurrency: int
    users: int
    followers: int
    fanout_via: str
    scratch: Path


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


async def httpx_load(gateway: str, bare_url: str, opts: Options) -> tuple[list[str], list[float]]:
    """The Python client's figures and the one-at-a-time news latencies."""
    setup_limits = httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
    async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=setup_limits) as anon:
        tokens = {}
        for name in ("author", "reader"):
            r = await anon.post("/login/dev", json={"username": f"bench-{name}"})
            tokens[name] = r.json()["access_token"]
    author = {"Authorization": f"Bearer {tokens['author']}"}
    reader = {"Authorization": f"Bearer {tokens['reader']}"}
    limits = httpx.Limits(
        max_connections=opts.concurrency,
        max_keepalive_connections=opts.concurrency,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )
    rows = []
    async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as client:
        await client.post("/v1/following", json={"followed": "bench-author"}, headers=reader)

        async def write(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.post("/v1/links", json={"url": f"https://example.com/b/{i}"}, headers=author)

        async def read(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get("/v1/links", params={"page_size": 20}, headers=author)

        async def bare_read(c: httpx.AsyncClient, i: int) -> httpx.Response:
            return await c.get(f"{bare_url}/v1/links")

        bare_rate = 0.0
        for label, fn in ((BARE_HOP, bare_read), (SAVE.label, write), (LIST.label, read)):
            count, elapsed, lat, errors = await load(client, fn, opts.seconds, opts.concurrency, 9000)
            rate = count / elapsed
            bare_rate = bare_rate or rate
            rows.append(
                f"| {label} | {opts.concurrency} | {rate:.0f} | {rate / bare_rate:.1%} | "
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
    return rows, feed_latencies


async def measure(
    database: str,
    system: RunningSystem,
    bare: tuple[str, int],
    floor: tuple[str, int],
    opts: Options,
    out: Section,
) -> None:
    bare_url, bare_pid = bare
    name = DATABASES[database]
    await asyncio.sleep(2)  # let start-up settle before reading idle memory
    idle = {proc: memory(pid) for proc, pid in system.processes().items()}
    idle_resident = resident_mb(list(system.processes().values()))
    out.goals += memory_goals(idle, idle_resident, database)
    httpx_rows, feed_latencies = await httpx_load(system.gateway, bare_url, opts)
    out.lines += [
        f"Python client (httpx, one process), {name}:",
        "",
        "| request | concurrency | requests/s | of bare hop | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *httpx_rows,
        "",
        f"News latency (link saved → in a follower's feed, one at a time, polled every 5 ms, "
        f"n={len(feed_latencies)}): median {statistics.median(feed_latencies) * 1000:.0f} ms, "
        f"max {max(feed_latencies) * 1000:.0f} ms.",
    ]
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
    async with httpx.AsyncClient(base_url=system.gateway, timeout=60, limits=limits) as client:
        tokens = await wrk_users(client, "bench-author", opts.users)
    ctx = Context(database, system, bare_url, bare_pid, *floor, tokens, opts.seconds)
    results = await guarded(out, "closed loop", lambda: closed_loop(ctx, out))
    await guarded(out, "open loop mix", lambda: mix(ctx, out))
    await guarded(out, "concurrent writers and open-loop saves", lambda: writers(ctx, out, results or {}))
    await guarded(out, "feed propagation", lambda: feed(ctx, out))
    if database == "postgres" and opts.followers > 0:
        await guarded(out, "fan-out", lambda: fan(ctx, out, opts.followers, opts.fanout_via))

    after = {proc: memory(pid) for proc, pid in system.processes().items()}
    after_resident = resident_mb(list(system.processes().values()))
    shared_check, local_check = await limiter_cost(system.redis_url)
    out.lines += [
        "",
        f"Memory of every process of the local run on {name} (RSS counts pages shared between processes "
        "in each of them; PSS splits them among those sharing; the physical pages are the page frames "
        "of /proc/<pid>/pagemap resident in any of the processes, each counted once):",
        "",
        *memory_rows(idle, after, (idle_resident, after_resident)),
        "",
        f"Before each measured run the local run was left to finish the work the last one left "
        f"(until its processes together used under {IDLE_SHARE:.0%} of a core over {IDLE_WINDOW:g} s): "
        f"{len(ctx.idle_waits)} waits, at most {max(ctx.idle_waits, default=0):.0f} s, "
        f"{sum(ctx.idle_waits):.0f} s in all.",
        "",
        "Rate limit check, one at a time: shared (GCRA in Redis, one round trip) "
        f"{shared_check * 1e6:.0f} µs, in-memory {local_check * 1e6:.1f} µs; the shared one adds "
        f"{(shared_check - local_check) * 1e6:.0f} µs.",
    ]


async def run_database(database: str, opts: Options) -> Section:
    section = Section(database)
    log = opts.scratch / f"localrun-{database}.log"
    with (
        database_urls(database) as (env, description),
        baseline_server(free_port()) as bare,
        two_hop_server(free_port(), bare[0]) as floor,
        local_run(env, log) as system,
    ):
        section.lines += [f"Database: {description}.", ""]
        await measure(database, system, bare, floor, opts, section)
    return section


async def run(opts: Options, databases: list[str]) -> str:
    head = machine()
    sections = [await run_database(database, opts) for database in databases]
    lines = [
        head,
        "",
        "Goals:",
        "",
        *goals.summary_table([g for s in sections for g in s.goals]),
    ]
    for section in sections:
        lines += ["", f"### {DATABASES[section.database]}", "", *section.lines]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed run")
    parser.add_argument("--concurrency", type=int, default=16, help="of the httpx load")
    parser.add_argument("--users", type=int, default=WRK_USERS, help="users the loads rotate over")
    parser.add_argument("--followers", type=int, default=10_000, help="of the fan-out (0: none)")
    parser.add_argument("--fanout-via", choices=("internal", "gateway"), default="internal",
                        help="how the followers are created")  # fmt: skip
    parser.add_argument("--database", choices=sorted(DATABASES), action="append",
                        help="run on this database only (repeatable; default: both)")  # fmt: skip
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep-logs", action="store_true", help="keep the local runs' logs")
    parser.add_argument("--skip-import", action="store_true", help="leave out the import benchmark")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="dlk-bench-logs-"))
    opts = Options(args.seconds, args.concurrency, args.users, args.followers, args.fanout_via, scratch)
    try:
        report = asyncio.run(run(opts, args.database or list(DATABASES)))
    except BaseException:
        print(f"The local runs' logs are kept in {scratch}", file=sys.stderr)
        raise
    if not args.keep_logs:
        shutil.rmtree(scratch, ignore_errors=True)  # every request's log line: they grow large
    if not args.skip_import:
        report += "\n\n" + asyncio.run(bench_import.report())
    print(report)
    if args.out:
        header = (
            "# Benchmarks\n\n"
            "Written by `make bench` (scripts/bench.py): the whole system started as `make run` starts it,\n"
            f"on SQLite and on Postgres, loaded through the gateway for {args.seconds:g} s per run, with wrk "
            "(closed loop)\nand an open-loop generator at fixed rates. Numbers from one machine, which other "
            "work may share:\nthe ratios to the bare hop measured in the same run with the same client are "
            "what compare across runs.\n\n"
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
