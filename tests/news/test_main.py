"""`python -m news_service` as its own process: it becomes ready, serves gRPC, and on
SIGTERM stops gracefully and exits 0 within its grace period."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import CALLER_SECRETS
from tests.news.support import PAGE_TOKEN_KEY, tokens
from tests.servers import NatsServer, free_port

GRACE_SECONDS = 5


def service_env(redis_url: str, nats_url: str, grpc_port: int, http_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(grpc_port),
        "HTTP_PORT": str(http_port),
        "REDIS_URL": redis_url,
        "NATS_URL": nats_url,
        "SOCIAL_GRAPH_MANAGER_URL": f"http://127.0.0.1:{free_port()}",
        "CALLER_TOKENS": json.dumps(tokens("api-gateway")),
        "CALLER_TOKEN": CALLER_SECRETS["news-manager"],
        "PAGE_TOKEN_KEY": PAGE_TOKEN_KEY,
        "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    }


@pytest.fixture
def process_log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "news-manager.log"
    yield path
    print(path.read_text(errors="replace")[-5000:])  # shown when the test fails


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "news_service"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_ready(proc: subprocess.Popen[bytes], http_port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert proc.poll() is None, "news-manager exited before it was ready"
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("news-manager did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def grpc_health(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return int(response.status)


def test_sigterm_stops_it_gracefully_with_exit_0(
    redis_url: str, own_nats: NatsServer, process_log: Path
) -> None:
    grpc_port, http_port = free_port(), free_port()
    proc = start(service_env(redis_url, own_nats.url, grpc_port, http_port), process_log)
    try:
        wait_ready(proc, http_port)
        body = httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=5).json()
        assert body["checked"] == ["grpc", "nats", "redis"]
        assert httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=5).status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=5)
        assert metrics.status_code == 200 and "grpc_server_requests_total" in metrics.text
        assert grpc_health(grpc_port) == health_pb2.HealthCheckResponse.SERVING

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=GRACE_SECONDS + 5) == 0
    finally:
        stop(proc)
    lines = [json.loads(line) for line in process_log.read_text().splitlines() if line.startswith("{")]
    assert "news-manager stopped" in [line["message"] for line in lines]


def test_readiness_names_a_dependency_that_is_down(own_nats: NatsServer, process_log: Path) -> None:
    grpc_port, http_port = free_port(), free_port()
    env = service_env(f"redis://127.0.0.1:{free_port()}/0", own_nats.url, grpc_port, http_port)
    proc = start(env, process_log)
    try:
        deadline = time.monotonic() + 30
        response = None
        while time.monotonic() < deadline and response is None:
            assert proc.poll() is None
            try:
                response = httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=5)
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None
        assert response.status_code == 503
        assert list(response.json()["failed"]) == ["redis"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=GRACE_SECONDS + 5) == 0
    finally:
        stop(proc)


@pytest.mark.parametrize("taken_port", ["PORT", "HTTP_PORT"])
def test_a_port_in_use_fails_the_start(
    redis_url: str, own_nats: NatsServer, process_log: Path, taken_port: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        env = service_env(redis_url, own_nats.url, free_port(), free_port())
        env[taken_port] = str(taken.getsockname()[1])
        proc = start(env, process_log)
        try:
            assert proc.wait(timeout=30) == 1
        finally:
            stop(proc)
    assert "cannot start" in process_log.read_text()
