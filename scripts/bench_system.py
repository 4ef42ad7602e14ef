"""The system `make bench` measures: the local run exactly as `make run` starts it
(`python -m delinkcious.localrun`, which starts NATS, Redis and the six services), on
free ports, on SQLite (the local default) or on fresh Postgres databases; and the
memory of every process it consists of."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from delinkcious.localrun.catalog import PYTHON, SERVICES
from delinkcious.localrun.ports import free_ports
from delinkcious.localrun.secretfile import SECRETS_FILE
from tests.databases import POSTGRES_ENV, fresh_postgres_database, postgres_server
from tests.servers import SERVICE_PORT_VARS

# The services that own a database, by the variable that names it.
DATABASE_VARS = tuple(s.database_env for s in SERVICES if s.database_env)
# Limits far above the load: the figures measure the system, not a limit one bench
# user reaches (the users rotate too).
RATE_LIMITS = {"RATE_LIMIT_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000"}
RUNNER = "localrun (runner)"


@dataclass
class RunningSystem:
    gateway: str
    social_graph: str  # social-graph-manager's internal API
    redis_url: str
    runner_pid: int
    data_dir: Path

    def caller_token(self, caller: str) -> str:
        """The secret `caller` presents to the services (from the local run's secrets file)."""
        secrets = json.loads((self.data_dir / SECRETS_FILE).read_text())
        return str(secrets["caller_tokens"][caller])

    def processes(self) -> dict[str, int]:
        """Every process of the run: the runner, what it started (by service name) and
        anything those started in turn."""
        found = {RUNNER: self.runner_pid}
        children = _children_by_parent()
        todo: list[tuple[int, str | None]] = [(pid, None) for pid in children.get(self.runner_pid, [])]
        while todo:
            pid, parent = todo.pop()
            # A service may run below another process of the run (a fork server that
            # starts the services): named by its command line wherever it sits.
            name, known = _process_name(pid)
            if not known and parent is not None:
                name = f"{parent}: {name}"
            found[name] = pid
            todo += [(child, name) for child in children.get(pid, [])]
        order = {s.name: i for i, s in enumerate(SERVICES)}
        return dict(sorted(found.items(), key=lambda item: (order.get(item[0].split(":")[0], -1), item[0])))


@contextlib.contextmanager
def database_urls(database: str) -> Iterator[tuple[dict[str, str], str]]:
    """The services' database variables and a description of the database.
    SQLite: no variables (the local run's own files). Postgres: a fresh database per
    service on DELINKCIOUS_TEST_POSTGRES_URL's server (else a throwaway embedded one),
    dropped afterwards."""
    if database == "sqlite":
        yield {}, f"SQLite {sqlite3.sqlite_version} (the local run's default: one file per service)"
        return
    with postgres_server() as admin, contextlib.ExitStack() as stack:
        engine = sa.create_engine(admin, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar()
        engine.dispose()
        where = "this machine's server" if os.environ.get(POSTGRES_ENV) else "a throwaway embedded server"
        urls = {var: stack.enter_context(fresh_postgres_database(admin)) for var in DATABASE_VARS}
        yield urls, f"Postgres {version} ({where}, a fresh database per service)"


@contextlib.contextmanager
def local_run(extra_env: dict[str, str], log: Path) -> Iterator[RunningSystem]:
    """`python -m delinkcious.localrun` in a fresh data folder, every port free and
    pinned; returns once the gateway is ready (it starts after everything it uses)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "REDIS_URL", *DATABASE_VARS)}
    names = (*SERVICE_PORT_VARS, "NATS_PORT", "REDIS_PORT")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    env.update({var: str(port) for var, port in ports.items()}, **RATE_LIMITS, **extra_env)
    data = Path(tempfile.mkdtemp(prefix="dlk-bench-"))
    system = RunningSystem(
        gateway=f"http://127.0.0.1:{ports['GATEWAY_PORT']}",
        social_graph=f"http://127.0.0.1:{ports['SOCIAL_GRAPH_MANAGER_PORT']}",
        redis_url=f"redis://127.0.0.1:{ports['REDIS_PORT']}/0",
        runner_pid=0,
        data_dir=data,
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "delinkcious.localrun", "--data-dir", str(data)],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    system.runner_pid = proc.pid
    try:
        _wait_ready(proc, f"{system.gateway}/readyz", log)
        yield system
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the runner stops everything in order
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 180) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-30:]
            raise RuntimeError("the local run did not start:\n" + "\n".join(tail))
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the local run was not ready after {timeout:g} s (see {log})")


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _process_name(pid: int) -> tuple[str, bool]:
    """The catalog's name for a process of the run, from its command line, and True;
    else a name from the command line (`python -m X`: X) and False."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").rstrip("\0").split("\0")
    except OSError:
        return f"pid {pid}", False
    for service in SERVICES:
        if service.argv[0] == PYTHON:
            if service.argv[1:] == tuple(argv[1 : len(service.argv)]):
                return service.name, True
        # Redis rewrites its command line to "redis-server host:port".
        elif argv[0] and Path(argv[0].split()[0]).name == Path(service.argv[0]).name:
            return service.name, True
    if len(argv) > 2 and argv[1] == "-m":
        return f"{argv[2]} (pid {pid})", False
    scripts = [arg for arg in argv[1:] if arg.endswith(".py")]  # `python [flags] script.py`
    if scripts:
        return f"{Path(scripts[0]).name} (pid {pid})", False
    return f"{Path(argv[0]).name} (pid {pid})", False


# --- memory ------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    rss_mb: float  # resident: counts pages shared with other processes in each of them
    pss_mb: float  # proportional: a shared page split among those sharing it


def memory(pid: int) -> Memory:
    """From /proc/<pid>/smaps_rollup, in MB (10^6 bytes); NaN for a process gone."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                fields[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return Memory(float("nan"), float("nan"))
    return Memory(fields.get("Rss", 0) * 1024 / 1e6, fields.get("Pss", 0) * 1024 / 1e6)


_PRESENT = 1 << 63  # /proc/<pid>/pagemap: the page is in RAM
_FRAME = (1 << 55) - 1  # bits 0-54: its page frame number (zero without CAP_SYS_ADMIN)
_CHUNK_PAGES = 1 << 16


def resident_mb(pids: list[int]) -> float | None:
    """The memory the processes hold together: each physical page resident in any of
    them counted once, however many map it (RSS counts it in each; PSS splits it, also
    with processes outside these). From the page frames /proc/<pid>/pagemap names,
    which only root can read: None otherwise, or when a process is gone."""
    page = os.sysconf("SC_PAGE_SIZE")
    frames: set[int] = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
            with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
                for line in maps:
                    start, end = (int(a, 16) // page for a in line.split(None, 1)[0].split("-"))
                    for first in range(start, end, _CHUNK_PAGES):
                        count = min(_CHUNK_PAGES, end - first)
                        pagemap.seek(first * 8)
                        try:
                            data = pagemap.read(count * 8)
                        except OSError:  # [vsyscall] and the like: not the process's pages
                            break
                        entries = memoryview(data).cast("Q")
                        frames.update(e & _FRAME for e in entries if e & _PRESENT)
        except (FileNotFoundError, ProcessLookupError):
            return None
    frames.discard(0)
    if not frames:  # present pages, but no frame numbers: not root
        return None
    return len(frames) * page / 1e6


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (a process gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return total / os.sysconf("SC_CLK_TCK")


IDLE_SHARE = 0.10  # of one core, all the local run's processes together
IDLE_WINDOW = 1.0  # seconds


def wait_until_idle(pids: list[int], timeout: float = 60.0) -> float:
    """Waits until the processes together use less than IDLE_SHARE of a core over
    IDLE_WINDOW (the work an earlier run left, such as the fan-out and link checks
    of its saves, is done), at most `timeout`; the seconds waited. A run that starts
    while the last one's backlog drains measures both."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pids)
        time.sleep(IDLE_WINDOW)
        if cpu_seconds(pids) - before < IDLE_SHARE * IDLE_WINDOW:
            break
    return time.monotonic() - started
