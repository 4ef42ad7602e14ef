"""Every service image run under podman exactly as the Helm chart renders its pod
(tests/images/values.yaml), against this machine's NATS, Redis and Postgres: each must
reach /readyz within the budget (the read-only root proves it writes nothing outside
the chart's volumes). Records each one's start-to-ready time and idle memory."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.chart import main_container
from tests.images.report import Report, Row
from tests.images.system import READY_BUDGET_SECONDS, START_ORDER, ImageSystem, podman, run_values

MACHINE_NATS = os.environ.get("DELINKCIOUS_IMAGE_NATS_URL", "nats://127.0.0.1:4222")
# A database number of its own on the machine's Redis.
MACHINE_REDIS = os.environ.get("DELINKCIOUS_IMAGE_REDIS_URL", "redis://127.0.0.1:6379/13")
MACHINE_POSTGRES = (
    os.environ.get("DELINKCIOUS_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
)
IDLE_SECONDS = 5


@pytest.fixture(scope="module")
def chart_system(tag: str) -> Iterator[ImageSystem]:
    system = ImageSystem(run_values(MACHINE_NATS, MACHINE_REDIS, tag), postgres_admin_url=MACHINE_POSTGRES)
    system.create_databases()
    try:
        yield system
    finally:
        system.stop()


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        status = Path(f"/proc/{current}/status").read_text()
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        for task in Path(f"/proc/{current}/task").iterdir():
            pending += [int(c) for c in (task / "children").read_text().split()]
    return total / 1024


@pytest.mark.parametrize("service", START_ORDER)
def test_service_reaches_ready_as_the_chart_runs_it(
    chart_system: ImageSystem, service: str, report: Report
) -> None:
    started = chart_system.start_service(service)
    assert started.ready_seconds < READY_BUDGET_SECONDS
    row = report.rows.setdefault(service, Row(size_mb=0))
    row.ready_s, row.migrate_s = started.ready_seconds, started.migrate_seconds


def test_containers_hold_the_chart_security_settings(chart_system: ImageSystem) -> None:
    # What podman actually applied, read back from the running containers.
    for service in START_ORDER:
        name = chart_system.container_name(service)
        fields = "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} "
        fields += "{{.HostConfig.SecurityOpt}}"
        shown = podman("inspect", "--format", fields, name).stdout
        assert shown.startswith("10001:10001 true "), shown
        assert "no-new-privileges" in shown
        status = podman("exec", name, "python", "-c", "import os; print(os.getuid(), os.getgid())").stdout
        assert status.split() == ["10001", "10001"]


def compile_probe(module: str) -> str:
    """Python code that imports a service the way `python -m` does (everything but
    running main) and prints every module the import system compiled from source: it
    does that only when it finds no usable byte code, in SourceLoader.source_to_code,
    which the probe wraps (an `ast.parse`, as some libraries do of themselves, is no import)."""
    return (
        "import json, importlib._bootstrap_external as ext\n"
        "seen = []\n"
        "original = ext.SourceLoader.source_to_code\n"
        "def recorded(self, data, path, *, _optimize=-1):\n"
        "    seen.append(path)\n"
        "    return original(self, data, path, _optimize=_optimize)\n"
        "ext.SourceLoader.source_to_code = recorded\n"
        f"import runpy; runpy.run_module('{module}', run_name='not_main')\n"
        "print(json.dumps(seen))\n"
    )


def test_services_start_without_compiling_a_module(chart_system: ImageSystem) -> None:
    # In the running containers: read-only root, uid 10001, as the chart runs them.
    for service in START_ORDER:
        module = chart_system.main(service).command[-1]
        run = podman("exec", chart_system.container_name(service), "python", "-c", compile_probe(module))
        compiled = json.loads(run.stdout.strip().splitlines()[-1])
        assert compiled == [], f"{service} compiled at start: {compiled[:10]}"


def test_idle_memory(chart_system: ImageSystem, report: Report) -> None:
    time.sleep(IDLE_SECONDS)
    for service in START_ORDER:
        rss = rss_mb(chart_system.main_pid(service))
        report.rows.setdefault(service, Row(size_mb=0)).rss_mb = rss
        limit = main_container(chart_system.workload(service))["resources"]["limits"]["memory"]
        assert limit.endswith("Mi")
        # Far from the chart's memory limit, where the pod would be killed.
        assert rss < int(limit[:-2]) * 1.048576 * 0.8, f"{service}: {rss:.0f} MB idle, limit {limit}"
