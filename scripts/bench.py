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
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api_gateway.ratelimit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from api_gateway.shared_state import SharedState
from scripts import bench_goals as goals
from scripts import bench_import
from scripts.bench_baseline import baseline_server
from scripts.bench_feed import fan_out, propagation
from scripts.bench_goals import Goal
from scripts.bench_open import Call, OpenResult, percentile, run_open_loop
from scripts.bench_system import Memory, RunningSystem, cpu_seconds, database_urls, local_run, memory
from scripts.bench_wrk import WrkResult, run_wrk
from tests.servers import free_port

DATABASES = {"sqlite": "SQLite", "postgres": "Postgres"}
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
BARE_HOP = "bare hop: FastAPI + uvicorn, fixed page of 20"
WRK_USERS = 64
LINKS_PER_USER = 20
WRK_CONNECTIONS = (16, 32)
LIST = Call("GET /v1/links (page of 20)", "GET", "/v1/links?page_size=20")
NEWS = Call("GET /v1/news (page of 20)", "GET", "/v1/news?page_size=20")
SAVE = Call("POST /v1/links", "POST", "/v1/links")
CLOSED_LOOP_CALLS = (LIST, NEWS, SAVE)
# The open-loop mix: 60% news reads, 30% link lists, 10% saves.
MIX = [
    Call(NEWS.label, NEWS.method, NEWS.path, 6),
    Call(LIST.label, LIST.method, LIST.path, 3),
    Call(SAVE.label, SAVE.method, SAVE.path, 1),
]
MIX_LABEL = "mix: 60% news, 30% lists, 10% saves"
VIA = {"gateway": "through the gateway", "internal": "through social-graph-manager's internal API"}


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


@dataclass
class Section:
    database: str
    lines: list[str] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)


def closed_loop_table(
    results: dict[tuple[str, int], WrkResult], cpu_ms: dict[tuple[str, int], float], database: str
) -> tuple[list[str], list[Goal]]:
    rows = [
        "| request | connections | requests/s | of bare hop | goal | implied multiple of linkding | "
        "p50 ms | p99 ms | non-2xx | socket errors | CPU ms a request |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    found: list[Goal] = []
    by_call: dict[str, list[float]] = {}
    for (label, connections), r in results.items():
        base = results[(BARE_HOP, connections)]
        share = r.rate / base.rate if base.rate else math.nan
        target = goals.share_target(label, database) if label != BARE_HOP else None
        goal = f">= {target:.0%}" if target else ""
        multiple = f"{goals.linkding_multiple(label, share):.1f}x" if label != BARE_HOP else ""
        rows.append(
            f"| {label} | {connections} | {r.rate:.0f} | {share:.1%} | {goal} | {multiple} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.status_errors} | {r.socket_errors} | "
            f"{cpu_ms[(label, connections)]:.2f} |"
        )
        if label != BARE_HOP:
            by_call.setdefault(label, []).append(share)
    name = DATABASES[database]
    for label, shares in by_call.items():
        target = goals.share_target(label, database)
        measured = ", ".join(f"{s:.1%}" for s in shares) + f" ({'/'.join(map(str, WRK_CONNECTIONS))} conn.)"
        found.append(
            Goal(
                f"closed loop {label}, of bare hop",
                name,
                f">= {target:.0%}" if target else "none (one writer)",
                measured,
                None if target is None else min(shares) >= target,
            )
        )
        least = min(goals.linkding_multiple(label, s) for s in shares)
        found.append(
            Goal(
                f"closed loop {label}, multiple of linkding",
                name,
                f">= {goals.LINKDING_MULTIPLE:g}x",
                f"{least:.1f}x (the lower)",
                least >= goals.LINKDING_MULTIPLE,
            )
        )
    return rows, found


def open_loop_rows(label: str, result: OpenResult) -> list[str]:
    rows = []
    for call, values in result.latencies_ms.items():
        rows.append(
            f"| {label} | {call} | {len(values)} | {percentile(values, 50):.1f} | "
            f"{percentile(values, 99):.1f} | {max(values, default=math.nan):.1f} |"
        )
    every = result.all_latencies
    rows.append(
        f"| {label} | all | {len(every)} | {percentile(every, 50):.1f} | {percentile(every, 99):.1f} | "
        f"{max(every, default=math.nan):.1f} |"
    )
    return rows


def open_measured(result: OpenResult) -> str:
    every = result.all_latencies
    return (
        f"{percentile(every, 99):.1f} ms (p50 {percentile(every, 50):.1f}; "
        f"sent {result.achieved_rate:.0f}/s, {result.failures} non-2xx)"
    )


def memory_rows(idle: dict[str, Memory], after: dict[str, Memory]) -> list[str]:
    rows = [
        "| process | RSS idle after start (MB) | PSS idle (MB) | RSS after the load (MB) | PSS after (MB) |",
        "| --- | --- | --- | --- | --- |",
    ]
    nan = Memory(math.nan, math.nan)
    for name, m in idle.items():
        a = after.get(name, nan)
        rows.append(f"| {name} | {m.rss_mb:.0f} | {m.pss_mb:.0f} | {a.rss_mb:.0f} | {a.pss_mb:.0f} |")
    rows.append(
        f"| **whole local run ({len(idle)} processes)** | {sum(m.rss_mb for m in idle.values()):.0f} | "
        f"{sum(m.pss_mb for m in idle.values()):.0f} | {sum(m.rss_mb for m in after.values()):.0f} | "
        f"{sum(m.pss_mb for m in after.values()):.0f} |"
    )
    return rows


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
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as anon:
        tokens = {}
        for name in ("author", "reader"):
            r = await anon.post("/login/dev", json={"username": f"bench-{name}"})
            tokens[name] = r.json()["access_token"]
    author = {"Authorization": f"Bearer {tokens['author']}"}
    reader = {"Authorization": f"Bearer {tokens['reader']}"}
    limits = httpx.Limits(max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency)
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
    database: str, system: RunningSystem, bare: tuple[str, int], opts: Options, out: Section
) -> None:
    bare_url, bare_pid = bare
    name = DATABASES[database]
    seconds = opts.seconds
    await asyncio.sleep(2)  # let start-up settle before reading idle memory
    idle = {proc: memory(pid) for proc, pid in system.processes().items()}
    out.goals.append(
        Goal(
            "memory idle after start, whole local run, sum of RSS",
            name,
            f"< {goals.MEMORY_MB:g} MB",
            f"{sum(m.rss_mb for m in idle.values()):.0f} MB ({len(idle)} processes)",
            sum(m.rss_mb for m in idle.values()) < goals.MEMORY_MB,
        )
    )
    out.goals.append(
        Goal(
            "memory idle after start, whole local run, sum of PSS",
            name,
            f"< {goals.MEMORY_MB:g} MB",
            f"{sum(m.pss_mb for m in idle.values()):.0f} MB",
            sum(m.pss_mb for m in idle.values()) < goals.MEMORY_MB,
        )
    )
    httpx_rows, feed_latencies = await httpx_load(system.gateway, bare_url, opts)
    async with httpx.AsyncClient(base_url=system.gateway, timeout=60) as client:
        tokens = await wrk_users(client, "bench-author", opts.users)

    # Closed loop: the bare hop and each call, alternating, at each connection count.
    # Next to each: the CPU time the server side used per request (the bare hop's
    # process, or every process of the local run), which other work on the machine
    # barely moves.
    results: dict[tuple[str, int], WrkResult] = {}
    cpu_ms: dict[tuple[str, int], float] = {}
    local_pids = list(system.processes().values())
    for connections in WRK_CONNECTIONS:
        for call in (Call(BARE_HOP, "GET", "/v1/links"), *CLOSED_LOOP_CALLS):
            url, pids = (bare_url, [bare_pid]) if call.label == BARE_HOP else (system.gateway, local_pids)
            before = cpu_seconds(pids)
            r = run_wrk(
                url, call.method, call.path, [] if call.label == BARE_HOP else tokens, connections, seconds
            )
            results[(call.label, connections)] = r
            cpu_ms[(call.label, connections)] = (cpu_seconds(pids) - before) / max(1, r.requests) * 1000
    loop_rows, loop_goals = closed_loop_table(results, cpu_ms, database)
    out.goals += loop_goals

    # The mix's maximum in closed loop, then the open loop at half of it.
    mix = [(c.method, c.path, c.weight) for c in MIX]
    mix_closed = {
        c: run_wrk(system.gateway, "GET", "/", tokens, c, seconds, mix=mix) for c in WRK_CONNECTIONS
    }
    mix_max = max(r.rate for r in mix_closed.values())
    mix_open = run_open_loop(system.gateway, MIX, tokens, mix_max / 2, seconds, "mix")
    mix_p99 = percentile(mix_open.all_latencies, 99)
    out.goals.append(
        Goal(
            f"open loop {MIX_LABEL} at half its max ({mix_open.target_rate:.0f}/s), p99",
            name,
            f"< {goals.MIX_P99_MS:g} ms",
            open_measured(mix_open),
            goals.below(mix_p99, goals.MIX_P99_MS) and mix_open.failures == 0,
        )
    )

    # Concurrent writers, then saves alone in open loop at half their maximum.
    writers = goals.WRITERS[database]
    writer_run = results.get((SAVE.label, writers)) or run_wrk(
        system.gateway, SAVE.method, SAVE.path, tokens, writers, seconds
    )
    refused = writer_run.status_errors + writer_run.socket_errors
    out.goals.append(
        Goal(
            f"saves refused under {writers} concurrent writers",
            name,
            "0",
            f"{refused} of {writer_run.requests} ({writer_run.rate:.0f}/s, p99 {writer_run.p99_ms:.0f} ms)",
            refused == 0,
        )
    )
    save_max = max([writer_run.rate] + [r.rate for (label, _), r in results.items() if label == SAVE.label])
    save_open = run_open_loop(system.gateway, [SAVE], tokens, save_max / 2, seconds, "save")
    save_p99 = percentile(save_open.all_latencies, 99)
    out.goals.append(
        Goal(
            f"open loop saves at half their max ({save_open.target_rate:.0f}/s), p99",
            name,
            f"< {goals.SAVE_P99_MS:g} ms",
            open_measured(save_open),
            goals.below(save_p99, goals.SAVE_P99_MS) and save_open.failures == 0,
        )
    )

    # Feed propagation at 50 saves/s; fan-out on Postgres.
    spread = await propagation(system.gateway, 50, seconds)
    out.goals.append(
        Goal(
            f"feed propagation at {spread.rate:g} saves/s, p99",
            name,
            f"< {goals.PROPAGATION_P99_MS:g} ms",
            f"{spread.p(99):.0f} ms (p50 {spread.p(50):.0f}; {spread.missing} of {spread.saved} not seen)",
            goals.below(spread.p(99), goals.PROPAGATION_P99_MS) and spread.missing == 0,
        )
    )
    fan = None
    if database == "postgres" and opts.followers > 0:
        fan = await fan_out(
            system.gateway,
            system.social_graph,
            system.caller_token("api-gateway"),
            opts.followers,
            opts.fanout_via,
        )
        worst = max(fan.sample_ms, default=math.nan)
        out.goals.append(
            Goal(
                f"fan-out to {fan.followers:,} followers, the last one's feed",
                name,
                f"< {goals.FAN_OUT_MS:g} ms",
                f"{fan.last_ms:.0f} ms (slowest of {len(fan.sample_ms)} sampled: {worst:.0f} ms)",
                goals.below(fan.last_ms, goals.FAN_OUT_MS)
                and goals.below(worst, goals.FAN_OUT_MS)
                and fan.missing == 0,
            )
        )

    after = {proc: memory(pid) for proc, pid in system.processes().items()}
    shared_check, local_check = await limiter_cost(system.redis_url)
    read_p50 = results[(LIST.label, WRK_CONNECTIONS[0])].p50_ms / 1000

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
        "",
        f"Closed loop on {name} (wrk -t1, {seconds:g} s a run, runs alternating; {len(tokens)} users, "
        "requests rotating over them; the multiple of linkding is the share of the bare hop over linkding's, "
        f"{goals.LINKDING_LIST:.1%} for lists, {goals.LINKDING_SAVE:.1%} for saves; CPU ms a request: "
        "user + system time of the bare hop's process, or of every process of the local run, over "
        "the requests answered, a figure other work on the machine barely moves; for the local run it "
        "includes what runs in the background meanwhile, such as the delivery and link checks of "
        "earlier saves):",
        "",
        *loop_rows,
        "",
        f"The {MIX_LABEL}, closed loop (wrk, same users): "
        + ", ".join(
            f"{c} connections {r.rate:.0f}/s (p99 {r.p99_ms:.0f} ms, non-2xx {r.status_errors})"
            for c, r in mix_closed.items()
        )
        + f"; saves under {writers} writers: {writer_run.rate:.0f}/s, p99 {writer_run.p99_ms:.0f} ms, "
        f"non-2xx {writer_run.status_errors}, socket errors {writer_run.socket_errors}.",
        "",
        f"Open loop on {name} (latency from each request's scheduled send time, so a late send by the "
        f"generator counts against the system; {seconds:g} s a run):",
        "",
        "| load | request | n | p50 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- |",
        *open_loop_rows(f"mix at {mix_open.target_rate:.0f}/s", mix_open),
        *open_loop_rows(f"saves at {save_open.target_rate:.0f}/s", save_open),
        "",
        f"- mix: {mix_open.summary()}",
        f"- saves: {save_open.summary()}",
        "",
        f"Feed propagation (saves at {spread.rate:g}/s open loop, sent {spread.achieved_rate:.1f}/s, by "
        f"{spread.authors} authors, one reader following them polling its news 10 ms after each answer: "
        f"{spread.polls} polls, one every {spread.poll_gap_ms:.0f} ms on average, on {name}): "
        f"{spread.saved} saved, p50 {spread.p(50):.0f} ms, p99 {spread.p(99):.0f} ms, "
        f"max {max(spread.delays_ms, default=math.nan):.0f} ms, {spread.missing} not seen; saves answered "
        f"{dict(spread.statuses)}.",
    ]
    if fan is not None:
        out.lines += [
            "",
            f"Fan-out: {fan.followers:,} users follow one author (created in {fan.create_seconds:.0f} s, "
            f"{VIA[fan.via]}"
            f"), who saves one link: in the last follower's feed after {fan.last_ms:.0f} ms; "
            f"{len(fan.sample_ms)} sampled followers: "
            + ", ".join(f"{d:.0f}" for d in fan.sample_ms)
            + f" ms; {fan.missing} did not see it.",
        ]
    out.lines += [
        "",
        f"Memory of every process of the local run on {name} (RSS counts pages shared between processes "
        "in each of them; PSS splits them among those sharing):",
        "",
        *memory_rows(idle, after),
        "",
        "Rate limit check, one at a time: shared (GCRA in Redis, one round trip) "
        f"{shared_check * 1e6:.0f} µs, in-memory {local_check * 1e6:.1f} µs; the shared one adds "
        f"{(shared_check - local_check) * 1e6:.0f} µs, {(shared_check - local_check) / read_p50:.2%} "
        "of a GET /v1/links at its wrk p50 (16 connections) above.",
    ]


async def run_database(database: str, opts: Options) -> Section:
    section = Section(database)
    log = opts.scratch / f"localrun-{database}.log"
    with (
        database_urls(database) as (env, description),
        baseline_server(free_port()) as bare,
        local_run(env, log) as system,
    ):
        section.lines += [f"Database: {description}.", ""]
        await measure(database, system, bare, opts, section)
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
