"""The measurements `make bench` makes on one running system, one step each: every
step adds its lines to the report and its goals to the summary, and a step that
fails is reported as such (its goal not met) instead of ending the whole run."""

from __future__ import annotations

import math
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from scripts import bench_goals as goals
from scripts.bench_feed import fan_out, propagation
from scripts.bench_goals import Goal
from scripts.bench_open import Call, OpenResult, percentile, run_open_loop
from scripts.bench_system import Memory, RunningSystem, cpu_seconds, wait_until_idle
from scripts.bench_wrk import WrkResult, run_wrk

DATABASES = {"sqlite": "SQLite", "postgres": "Postgres"}

BARE_HOP = "bare hop: FastAPI + uvicorn, fixed page of 20"
TWO_HOPS = "two bare hops: the bare hop behind a bare forwarding hop (aiohttp)"
BASELINES = (BARE_HOP, TWO_HOPS)
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
        baseline = label in BASELINES
        target = goals.share_target(label, database) if not baseline else None
        goal = f">= {target:.0%}" if target else ""
        multiple = f"{goals.linkding_multiple(label, share):.1f}x" if not baseline else ""
        rows.append(
            f"| {label} | {connections} | {r.rate:.0f} | {share:.1%} | {goal} | {multiple} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.status_errors} | {r.socket_errors} | "
            f"{cpu_ms[(label, connections)]:.2f} |"
        )
        if label != BARE_HOP:
            by_call.setdefault(label, []).append(share)
    name = DATABASES[database]
    floor = by_call.pop(TWO_HOPS, None)
    if floor:
        found.append(
            Goal(
                "closed loop two bare hops (the most a read through a gateway could reach), of bare hop",
                name,
                "none (a baseline)",
                ", ".join(f"{s:.1%}" for s in floor) + f" ({'/'.join(map(str, WRK_CONNECTIONS))} conn.)",
                None,
            )
        )
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
    rows = ["| load | request | n | p50 ms | p99 ms | max ms |", "| --- | --- | --- | --- | --- | --- |"]
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


def open_loop_goal(name: str, database: str, result: OpenResult, p99_limit_ms: float) -> Goal:
    """An open-loop run's p99 against its limit; any non-2xx answer fails it too."""
    p99 = percentile(result.all_latencies, 99)
    return Goal(
        f"{name} ({result.target_rate:.0f}/s), p99",
        database,
        f"< {p99_limit_ms:g} ms",
        open_measured(result),
        goals.below(p99, p99_limit_ms) and result.failures == 0,
    )


def memory_rows(
    idle: dict[str, Memory], after: dict[str, Memory], resident: tuple[float | None, float | None]
) -> list[str]:
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
    if None not in resident:
        rows.append(
            f"| **its physical pages, each counted once** | {resident[0]:.0f} | | {resident[1]:.0f} | |"
        )
    return rows


@dataclass
class Context:
    database: str
    system: RunningSystem
    bare_url: str
    bare_pid: int
    floor_url: str
    floor_pid: int
    tokens: list[str]
    seconds: float
    idle_waits: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return DATABASES[self.database]


def settled(ctx: Context) -> None:
    """Returns once the local run is idle: each run measures its own load alone."""
    ctx.idle_waits.append(wait_until_idle(list(ctx.system.processes().values())))


T = TypeVar("T")


async def guarded(section: Section, what: str, step: Callable[[], Awaitable[T]]) -> T | None:
    try:
        return await step()
    except Exception as exc:  # reported, so that the other measurements still run
        traceback.print_exc()
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        section.goals.append(Goal(what, DATABASES[section.database], "runs", f"failed: {message}", False))
        section.lines += ["", f"{what}: failed ({message})."]
        return None


Results = dict[tuple[str, int], WrkResult]


async def closed_loop(ctx: Context, out: Section) -> Results:
    """The bare hop and each call, alternating, at each connection count. Next to each:
    the CPU time the server side used per request (the bare hop's process, or every
    process of the local run), which other work on the machine barely moves."""
    results: Results = {}
    cpu_ms: dict[tuple[str, int], float] = {}
    local_pids = list(ctx.system.processes().values())
    baselines = {
        BARE_HOP: (ctx.bare_url, [ctx.bare_pid]),
        TWO_HOPS: (ctx.floor_url, [ctx.floor_pid, ctx.bare_pid]),
    }
    for connections in WRK_CONNECTIONS:
        for call in (*(Call(b, "GET", "/v1/links") for b in BASELINES), *CLOSED_LOOP_CALLS):
            bare = call.label in BASELINES
            url, pids = baselines[call.label] if bare else (ctx.system.gateway, local_pids)
            settled(ctx)
            before = cpu_seconds(pids)
            r = run_wrk(url, call.method, call.path, [] if bare else ctx.tokens, connections, ctx.seconds)
            results[(call.label, connections)] = r
            cpu_ms[(call.label, connections)] = (cpu_seconds(pids) - before) / max(1, r.requests) * 1000
    rows, found = closed_loop_table(results, cpu_ms, ctx.database)
    out.goals += found
    out.lines += [
        "",
        f"Closed loop on {ctx.name} (wrk -t1, {ctx.seconds:g} s a run, runs alternating; "
        f"{len(ctx.tokens)} users, requests rotating over them; the multiple of linkding is the share "
        f"of the bare hop over linkding's, {goals.LINKDING_LIST:.1%} for lists, "
        f"{goals.LINKDING_SAVE:.1%} for saves; the two bare hops are the floor of a read through a "
        "gateway: the bare hop's app behind a second bare app that forwards each request over a "
        "kept-alive aiohttp connection and passes the bytes back, with no authentication, database, "
        "log line, span or metric; each run starts once the local run is idle again; CPU ms a request: "
        "user + system time of the baseline's processes, "
        "or of every process of the local run, over the requests answered, a figure other "
        "work on the machine barely moves; for the local run it includes what runs in the background "
        "meanwhile, such as the delivery and link checks of earlier saves):",
        "",
        *rows,
    ]
    return results


async def mix(ctx: Context, out: Section) -> None:
    """The mix's maximum in closed loop, then the open loop at half of it."""
    weighted = [(c.method, c.path, c.weight) for c in MIX]
    closed = {}
    for c in WRK_CONNECTIONS:
        settled(ctx)
        closed[c] = run_wrk(ctx.system.gateway, "GET", "/", ctx.tokens, c, ctx.seconds, mix=weighted)
    most = max(r.rate for r in closed.values())
    settled(ctx)
    result = run_open_loop(ctx.system.gateway, MIX, ctx.tokens, most / 2, ctx.seconds, "mix")
    name = f"open loop {MIX_LABEL} at half its max"
    out.goals.append(open_loop_goal(name, ctx.name, result, goals.MIX_P99_MS))
    out.lines += [
        "",
        f"The {MIX_LABEL} on {ctx.name}, closed loop (wrk, the same users): "
        + ", ".join(
            f"{c} connections {r.rate:.0f}/s (p99 {r.p99_ms:.0f} ms, non-2xx {r.status_errors})"
            for c, r in closed.items()
        )
        + f". Then open loop at half the higher (latency from each request's scheduled send time, so a "
        f"late send by the generator counts against the system; {ctx.seconds:g} s timed after "
        f"{result.warmup_seconds:g} s sent at the same rate untimed, as wrk2 calibrates first):",
        "",
        *open_loop_rows(f"mix at {result.target_rate:.0f}/s", result),
        "",
        f"In all: {result.summary()}.",
    ]


async def writers(ctx: Context, out: Section, results: Results) -> None:
    """Saves refused under many concurrent writers, then saves alone in open loop at
    half their maximum."""
    count = goals.WRITERS[ctx.database]
    run = results.get((SAVE.label, count))
    if run is None:
        settled(ctx)
        run = run_wrk(ctx.system.gateway, SAVE.method, SAVE.path, ctx.tokens, count, ctx.seconds)
    refused = run.status_errors + run.socket_errors
    out.goals.append(
        Goal(
            f"saves refused under {count} concurrent writers",
            ctx.name,
            "0",
            f"{refused} of {run.requests} ({run.rate:.0f}/s, p99 {run.p99_ms:.0f} ms)",
            refused == 0,
        )
    )
    most = max([run.rate] + [r.rate for (label, _), r in results.items() if label == SAVE.label])
    settled(ctx)
    result = run_open_loop(ctx.system.gateway, [SAVE], ctx.tokens, most / 2, ctx.seconds, "save")
    out.goals.append(open_loop_goal("open loop saves at half their max", ctx.name, result, goals.SAVE_P99_MS))
    out.lines += [
        "",
        f"Saves under {count} concurrent writers on {ctx.name} (wrk): {run.rate:.0f}/s, p99 "
        f"{run.p99_ms:.0f} ms, non-2xx {run.status_errors}, socket errors {run.socket_errors}. "
        f"Then open loop at half the highest save rate measured ({ctx.seconds:g} s timed after "
        f"{result.warmup_seconds:g} s of warm-up):",
        "",
        *open_loop_rows(f"saves at {result.target_rate:.0f}/s", result),
        "",
        f"In all: {result.summary()}.",
    ]


async def feed(ctx: Context, out: Section) -> None:
    settled(ctx)
    spread = await propagation(ctx.system.gateway, 50, ctx.seconds)
    out.goals.append(
        Goal(
            f"feed propagation at {spread.rate:g} saves/s, p99",
            ctx.name,
            f"< {goals.PROPAGATION_P99_MS:g} ms",
            f"{spread.p(99):.0f} ms (p50 {spread.p(50):.0f}; {spread.missing} of {spread.saved} not seen)",
            goals.below(spread.p(99), goals.PROPAGATION_P99_MS) and spread.missing == 0,
        )
    )
    out.lines += [
        "",
        f"Feed propagation on {ctx.name} (saves at {spread.rate:g}/s open loop, sent "
        f"{spread.achieved_rate:.1f}/s, by {spread.authors} authors, one reader following them polling "
        f"its news 10 ms after each answer: {spread.polls} polls, one every {spread.poll_gap_ms:.0f} ms "
        f"on average): {spread.saved} saved, p50 {spread.p(50):.0f} ms, p99 {spread.p(99):.0f} ms, "
        f"max {max(spread.delays_ms, default=math.nan):.0f} ms, {spread.missing} not seen; saves "
        f"answered {dict(spread.statuses)}.",
    ]


async def fan(ctx: Context, out: Section, followers: int, via: str) -> None:
    system = ctx.system
    settled(ctx)
    result = await fan_out(
        system.gateway, system.social_graph, system.caller_token("api-gateway"), followers, via
    )
    worst = max(result.sample_ms, default=math.nan)
    out.goals.append(
        Goal(
            f"fan-out to {result.followers:,} followers, the last one's feed",
            ctx.name,
            f"< {goals.FAN_OUT_MS:g} ms",
            f"{result.last_ms:.0f} ms (slowest of {len(result.sample_ms)} sampled: {worst:.0f} ms)",
            goals.below(result.last_ms, goals.FAN_OUT_MS)
            and goals.below(worst, goals.FAN_OUT_MS)
            and result.missing == 0,
        )
    )
    out.lines += [
        "",
        f"Fan-out on {ctx.name}: {result.followers:,} users follow one author (created in "
        f"{result.create_seconds:.0f} s, {VIA[result.via]}), who saves one link: in the last follower's "
        f"feed after {result.last_ms:.0f} ms; {len(result.sample_ms)} sampled followers: "
        + ", ".join(f"{d:.0f}" for d in result.sample_ms)
        + f" ms; {result.missing} did not see it.",
    ]


def memory_goals(idle: dict[str, Memory], resident: float | None, database: str) -> list[Goal]:
    """Judged by the physical pages the run holds, each counted once (where they can be
    read), and by the PSS sum; the RSS sum, which counts a page shared by n processes
    n times, is shown beside them."""
    rss = sum(m.rss_mb for m in idle.values())
    pss = sum(m.pss_mb for m in idle.values())
    target = f"< {goals.MEMORY_MB:g} MB"
    what = "memory idle after start, whole local run"
    db = DATABASES[database]
    pages = f"{what}, its physical pages (each counted once)"
    return [
        *(
            []
            if resident is None
            else [Goal(pages, db, target, f"{resident:.0f} MB", resident < goals.MEMORY_MB)]
        ),
        Goal(
            f"{what}, sum of PSS", db, target, f"{pss:.0f} MB ({len(idle)} processes)", pss < goals.MEMORY_MB
        ),
        Goal(
            f"{what}, sum of RSS (a page shared by n processes counted n times)",
            db,
            "none",
            f"{rss:.0f} MB",
            None,
        ),
    ]
