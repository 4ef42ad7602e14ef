"""The benchmark's own parts: the mix's order, percentiles, goal thresholds, waiting for
idle, the two-hop floor."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from scripts import bench_goals as goals
from scripts.bench_baseline import baseline_server
from scripts.bench_floor import two_hop_server
from scripts.bench_open import interleave, percentile, workers_for
from scripts.bench_steps import Section, guarded
from scripts.bench_system import _process_name, cpu_seconds, memory, resident_mb, wait_until_idle
from tests.servers import free_port


def test_interleave_gives_each_call_its_weight_spread_evenly() -> None:
    cycle = interleave([6, 3, 1])
    assert Counter(cycle) == {0: 6, 1: 3, 2: 1}
    # No more than two news reads in a row, and the lists are apart.
    assert "000" not in "".join(map(str, cycle))
    assert "11" not in "".join(map(str, cycle))


def test_interleave_of_one_call_is_that_call() -> None:
    assert interleave([1]) == [0]


@pytest.mark.parametrize(
    ("p", "expected"),
    [(50, 50.0), (99, 99.0), (100, 100.0), (1, 1.0)],
)
def test_percentile_is_nearest_rank(p: float, expected: float) -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unordered input
    assert percentile(values, p) == expected


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 99))


def test_workers_grow_with_the_rate_but_not_past_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert workers_for(10) == 1
    assert workers_for(10_000) == 2


def test_saves_have_a_share_target_only_on_postgres() -> None:
    assert goals.share_target("POST /v1/links", "postgres") == goals.SAVE_SHARE
    assert goals.share_target("POST /v1/links", "sqlite") is None
    assert goals.share_target("GET /v1/news", "sqlite") == goals.READ_SHARE


def test_linkding_multiple_uses_its_list_and_save_shares() -> None:
    assert goals.linkding_multiple("GET /v1/links", 0.23) == pytest.approx(10)
    assert goals.linkding_multiple("POST /v1/links", 0.042) == pytest.approx(2)


def test_an_unmeasured_figure_never_meets_a_goal() -> None:
    assert not goals.below(math.nan, 50)
    assert goals.below(49.9, 50)
    assert not goals.below(50, 50)


def test_cpu_seconds_counts_this_process_work_and_ignores_a_gone_one() -> None:
    before = cpu_seconds([os.getpid(), 2**22 + 1])
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    assert cpu_seconds([os.getpid()]) - before >= 0.05


def test_a_failed_step_is_reported_as_a_goal_not_met() -> None:
    async def broken() -> int:
        raise RuntimeError("wrk exited with 1\nmore detail")

    section = Section("postgres")
    assert asyncio.run(guarded(section, "closed loop", broken)) is None
    (goal,) = section.goals
    assert goal.met is False and goal.database == "Postgres"
    assert goal.measured == "failed: RuntimeError: wrk exited with 1"
    assert "closed loop: failed" in section.lines[-1]


def test_a_process_outside_the_catalog_is_named_by_its_module() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "timeit", "-n", "1", "import time; time.sleep(5)"])
    try:
        deadline = time.monotonic() + 5
        while "timeit" not in Path(f"/proc/{proc.pid}/cmdline").read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _process_name(proc.pid) == (f"timeit (pid {proc.pid})", False)
    finally:
        proc.kill()
        proc.wait()


def test_waiting_for_idle_returns_at_once_for_an_idle_process() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.5)  # past its start-up
        assert wait_until_idle([sleeper.pid], timeout=10) < 2.5
    finally:
        sleeper.kill()
        sleeper.wait()


def test_waiting_for_idle_waits_while_a_process_is_busy() -> None:
    # Busy for 3 s, then idle: the wait ends after the busy part, not before.
    busy = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass\n"
         "time.sleep(30)"]
    )  # fmt: skip
    try:
        waited = wait_until_idle([busy.pid], timeout=20)
        assert 2.5 < waited < 10
    finally:
        busy.kill()
        busy.wait()


def test_the_two_hop_floor_passes_the_bare_hops_page_through() -> None:
    with baseline_server(free_port()) as (bare_url, _), two_hop_server(free_port(), bare_url) as (url, _):
        direct, forwarded = httpx.get(f"{bare_url}/v1/links"), httpx.get(f"{url}/v1/links")
    assert forwarded.status_code == 200
    assert forwarded.headers["content-type"] == "application/json"
    assert forwarded.content == direct.content
    assert len(forwarded.json()["links"]) == 20


# A process holding 64 MB of its own pages forks; the child waits for a line on stdin,
# then writes one byte in every page of that buffer (copy-on-write: its own copies).
_FORKED_BUFFER = """
import os, sys
buf = bytearray(b"\\x01" * (64 << 20))
child = os.fork()
if child == 0:
    print(os.getpid(), flush=True)
    sys.stdin.readline()
    for i in range(0, len(buf), 4096):
        buf[i] = 2
    print("copied", flush=True)
    sys.stdin.readline()
    os._exit(0)
os.waitpid(child, 0)
"""


def test_resident_pages_count_a_page_shared_after_a_fork_once_and_its_copies_again() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _FORKED_BUFFER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        pids = [proc.pid, int(proc.stdout.readline())]
        shared = resident_mb(pids)
        if os.geteuid() != 0:  # page frames are root's to read
            assert shared is None
            return
        rss_sum = sum(memory(pid).rss_mb for pid in pids)
        assert shared is not None and shared > 64
        assert rss_sum - shared > 60  # the buffer (and the interpreter) counted once
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "copied"
        copied = resident_mb(pids)
        assert copied is not None and 60 < copied - shared < 72  # the child's 64 MB of copies
    finally:
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(timeout=10)
