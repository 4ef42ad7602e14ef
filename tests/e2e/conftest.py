"""The whole system, started through the same code path as `make run` (LocalSystem),
with NATS and Redis servers the tests control so they can stop and restart them.

With DELINKCIOUS_E2E_IMAGE_TAG set, the same tests run against the system started from
its container images instead (tests/images/system.py: every service under podman as the
Helm chart renders it, on this machine's Postgres); `make test-images` does that."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from delinkcious.localrun import LocalSystem
from tests.images.system import ImageSystem, run_values
from tests.servers import NatsServer, RedisServer, isolated_system_env

IMAGE_TAG = os.environ.get("DELINKCIOUS_E2E_IMAGE_TAG", "")


@dataclass
class RunningSystem:
    local: LocalSystem | ImageSystem
    nats: NatsServer
    redis: RedisServer
    gateway: str
    log: io.StringIO

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.gateway, headers=headers, timeout=10)

    def login(self, username: str) -> str:
        with self.client() as c:
            response = c.post("/login/dev", json={"username": username})
            assert response.status_code == 200, response.text
            token: str = response.json()["access_token"]
            return token


# News pages kept far longer than any test waits for an event: every news read after a
# delivery then shows that the cache never outlives one (test_news_cache.py).
NEWS_CACHE = {"NEWS_CACHE_SECONDS": "60"}

# What the tests need of the containers beyond the chart's production settings: dev
# login, checks of the tests' own pages on 127.0.0.1, and no rate limit on one user.
E2E_IMAGE_VALUES = {
    "services": {
        "api-gateway": {
            "env": {"RATE_LIMIT_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000", **NEWS_CACHE},
            "extraEnv": [{"name": "DEV_LOGIN", "value": "true"}],
        },
        "link-checker": {"extraEnv": [{"name": "LINK_CHECKER_ALLOW_PRIVATE_NETWORKS", "value": "true"}]},
    }
}


def images_system(nats: NatsServer, redis: RedisServer) -> Iterator[RunningSystem]:
    postgres = (
        os.environ.get("DELINKCIOUS_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    values = run_values(nats.url, redis.url, IMAGE_TAG, E2E_IMAGE_VALUES)
    images = ImageSystem(values, postgres_admin_url=postgres)
    try:
        images.start()
        yield RunningSystem(images, nats, redis, images.gateway, io.StringIO())
    finally:
        images.stop()


def local_system(data_dir: Path, nats: NatsServer, redis: RedisServer, **env: str) -> Iterator[RunningSystem]:
    """The whole system as `make run` starts it, on free ports and on brokers that were
    started already; stops it, and closes the brokers, at the end. `env` adds settings."""
    log = io.StringIO()
    local = LocalSystem(
        data_dir, env=isolated_system_env(nats, redis, DELINKCIOUS_READY_TIMEOUT="90", **env), out=log
    )
    try:
        urls = local.start()
    except BaseException:
        print(log.getvalue())
        nats.close()
        redis.close()
        raise
    try:
        yield RunningSystem(local, nats, redis, urls["api-gateway"], log)
    finally:
        local.stop()
        nats.close()
        redis.close()


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    if IMAGE_TAG:
        try:
            yield from images_system(nats, redis)
        finally:
            nats.close()
            redis.close()
        return
    yield from local_system(
        tmp_path_factory.mktemp("system") / "data",
        nats,
        redis,
        LINK_CHECKER_ALLOW_PRIVATE_NETWORKS="true",
        **NEWS_CACHE,
    )


class _Pages(BaseHTTPRequestHandler):
    """/title: 200 with a <title>; /plain: 200 HTML without one; anything else: 404."""

    def do_GET(self) -> None:
        if self.path.startswith("/title"):
            body = b"<html><head><title>A Page &amp; Its Title</title></head><body>hi</body></html>"
            self.send_response(200)
        elif self.path.startswith("/plain"):
            body = b"<html><body>no title here</body></html>"
            self.send_response(200)
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="package")
def pages() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def unique(prefix: str) -> str:
    """Usernames unique per test, since the system is shared by the package."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def data_dir(system: RunningSystem) -> Path:
    assert isinstance(system.local, LocalSystem), "only the local run has a data folder"
    return system.local.data_dir
