"""The whole system run from its images under podman, each container exactly as the Helm
chart renders its pod (tests/images/pods.py), on the host network with free ports.

The chart is rendered with tests/images/values.yaml plus what only a run knows: the image
tag, the ports (free ones, so nothing collides with a developer's or another test's
services), the brokers' addresses and per-run database names on the machine's Postgres.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import yaml

from tests.deploy.chart import Rendered, merge, render
from tests.images import pods
from tests.servers import free_port

HERE = Path(__file__).parent
# Dependencies first, so each service's start-to-ready time is its own.
START_ORDER = (
    "user-manager",
    "social-graph-manager",
    "link-manager",
    "link-checker",
    "news-manager",
    "api-gateway",
)
READY_BUDGET_SECONDS = float(os.environ.get("DELINKCIOUS_IMAGE_READY_BUDGET", "30"))


def image_registry() -> str:
    return os.environ.get("DELINKCIOUS_IMAGE_REGISTRY", "localhost/delinkcious")


def image_tag() -> str:
    tag = os.environ.get("DELINKCIOUS_IMAGE_TAG", "")
    assert tag, "DELINKCIOUS_IMAGE_TAG names the images to test (make test-images sets it)"
    return tag


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([*pods.PODMAN, *args], capture_output=True, text=True, check=False, timeout=timeout)
    if check and run.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])}... failed: {run.stderr.strip()}")
    return run


def run_values(
    nats_url: str, redis_url: str, tag: str, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The test values file plus this run's tag, free ports, brokers and database names."""
    values = yaml.safe_load((HERE / "values.yaml").read_text())
    run_id = uuid.uuid4().hex[:8]
    services: dict[str, Any] = {}
    for name in START_ORDER:
        services[name] = {"port": free_port()}
    services["news-manager"]["httpPort"] = free_port()
    for name, db in (
        ("link-manager", "link_manager"),
        ("user-manager", "user_manager"),
        ("social-graph-manager", "social_graph_manager"),
    ):
        services[name]["database"] = {"name": f"img_{run_id}_{db}", "user": db}
    gateway_port = services["api-gateway"]["port"]
    dynamic = {
        "global": {"image": {"registry": image_registry(), "tag": tag}},
        "publicUrl": f"http://127.0.0.1:{gateway_port}",
        "services": services,
        "nats": {"external": {"url": nats_url}},
        "redis": {"external": {"url": redis_url}},
    }
    return merge(merge(values, dynamic), overrides or {})


@dataclass
class Started:
    name: str
    migrate_seconds: float | None
    ready_seconds: float
    url: str


@dataclass
class ImageSystem:
    """Runs the chart's pods under podman; `start` returns once every one is ready."""

    values: dict[str, Any]
    postgres_admin_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    rendered: Rendered = field(init=False)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    started: dict[str, Started] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rendered = render(self.values)

    # -- naming ------------------------------------------------------------------------
    def container_name(self, service: str, container: str | None = None) -> str:
        return f"dlk-{self.run_id}-{container or service}"

    def workload(self, service: str) -> pods.Obj:
        return self.rendered.get("Deployment", service)

    def main(self, service: str) -> pods.Container:
        return pods.container(self.rendered, self.workload(service), service)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.main('api-gateway').ports['http']}"

    # -- databases ---------------------------------------------------------------------
    def _databases(self) -> list[tuple[str, str]]:
        out = []
        for service in START_ORDER:
            db = self.values["services"][service].get("database")
            if db:
                out.append((db["name"], db["user"]))
        return out

    def create_databases(self) -> None:
        for name, user in self._databases():
            exists = self._sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
            if not exists:
                self._sql(f'CREATE ROLE "{user}" LOGIN')
            self._sql(f'CREATE DATABASE "{name}" OWNER "{user}"')

    def drop_databases(self) -> None:
        for name, _ in self._databases():
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _sql(self, statement: str, params: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(self.postgres_admin_url)
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    # -- containers --------------------------------------------------------------------
    def _create(self, spec: pods.Container, podman_name: str) -> None:
        """Creates the container; with vfs storage that copies the whole image, which is
        this machine's storage and not the image's start, so it is not timed."""
        podman("rm", "--force", podman_name, check=False)
        podman(*spec.create_args(podman_name, list(START_ORDER)))

    def _migrate(self, service: str) -> float | None:
        workload = self.workload(service)
        inits = workload["spec"]["template"]["spec"].get("initContainers", [])
        if not inits:
            return None
        took = 0.0
        for init in inits:
            name = self.container_name(service, f"{service}-{init['name']}")
            self._create(pods.container(self.rendered, workload, init["name"]), name)
            began = time.monotonic()
            podman("start", name)
            code = podman("wait", name, timeout=180).stdout.strip()
            took += time.monotonic() - began
            if code != "0":
                raise AssertionError(f"{service} {init['name']} exited {code}:\n{self.logs(name)}")
        return took

    def start_service(self, service: str) -> Started:
        migrate = self._migrate(service)
        spec = self.main(service)
        url = pods.readiness_url(self.workload(service), spec)
        self._create(spec, self.container_name(service))
        began = time.monotonic()
        podman("start", self.container_name(service))
        self._wait_ready(service, url, began)
        started = Started(service, migrate, time.monotonic() - began, url)
        self.started[service] = started
        return started

    def _wait_ready(self, service: str, url: str, began: float) -> None:
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            name = self.container_name(service)
            state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            if state != "running":
                raise AssertionError(f"{service} is {state}:\n{self.logs(name)}")
            if time.monotonic() - began > READY_BUDGET_SECONDS:
                raise AssertionError(
                    f"{service} not ready at {url} within {READY_BUDGET_SECONDS} s:\n"
                    + self.logs(self.container_name(service))
                )
            time.sleep(0.05)

    def start(self) -> dict[str, str]:
        self.create_databases()
        for service in START_ORDER:
            self.start_service(service)
        return {name: s.url for name, s in self.started.items()}

    def kill(self, service: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signals one service's container and waits for it to exit (fault drills)."""
        name = self.container_name(service)
        podman("kill", "--signal", sig.name, name)
        podman("wait", name, timeout=60)

    def restart(self, service: str) -> None:
        """Stops one service if it still runs, starts its container again, waits for ready."""
        name = self.container_name(service)
        podman("stop", "--time", "20", name, check=False)
        began = time.monotonic()
        podman("start", name)
        self._wait_ready(service, self.started[service].url, began)

    def logs(self, podman_name: str) -> str:
        run = podman("logs", "--tail", "60", podman_name, check=False)
        return (run.stdout + run.stderr)[-6000:]

    def main_pid(self, service: str) -> int:
        return int(podman("inspect", "--format", "{{.State.Pid}}", self.container_name(service)).stdout)

    def stop(self) -> None:
        prefix = f"name=dlk-{self.run_id}-"
        names = podman("ps", "--all", "--filter", prefix, "--format", "{{.Names}}", check=False)
        for name in names.stdout.split():
            podman("rm", "--force", "--time", "15", name, check=False)
        self.drop_databases()
