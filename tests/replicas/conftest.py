"""Two gateway replicas as two real processes, sharing one real Redis, in front of the
real services: the system started as `make run` starts it (LocalSystem), plus a second
`python -m api_gateway` with the first one's configuration on another port. GitHub
login goes to a local stand-in; both replicas have the same public URL, as replicas
behind one load balancer do."""

from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from delinkcious.localrun import LocalSystem
from tests.gateway_login.github_standin import GitHubStandIn
from tests.servers import NatsServer, RedisServer, free_port, isolated_system_env

RATE = 4.0  # RATE_LIMIT_PER_SECOND of both replicas
BURST = 12  # RATE_LIMIT_BURST


@dataclass
class Replicas:
    local: LocalSystem
    redis: RedisServer
    github: GitHubStandIn
    a: str  # the replicas' base URLs
    b: str
    user_manager: str
    log: io.StringIO
    b_log: Path

    def login(self, username: str, via: str | None = None) -> str:
        response = httpx.post(f"{via or self.a}/login/dev", json={"username": username}, timeout=10)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def metric(self, base_url: str, name: str, **labels: str) -> float:
        """The sum of a metric's samples with these labels on one process's /metrics."""
        text = httpx.get(f"{base_url}/metrics", timeout=5).text
        pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", re.M)
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        return sum(float(v) for found, v in pattern.findall(text) if all(w in found for w in wanted))

    def wait_until_subscribed(self, timeout: float = 15.0) -> None:
        """Both replicas cache tokens again (they hear the revocation channel)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            up = [self.metric(u, "delinkcious_gateway_revocation_channel_up") for u in (self.a, self.b)]
            if up == [1, 1]:
                return
            time.sleep(0.05)
        raise AssertionError("the replicas did not join the revocation channel")


def _start_second_gateway(local: LocalSystem, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    spec = next(s for s in local.specs if s.name == "api-gateway")
    port = free_port()
    env = {**spec.env, "PORT": str(port)}
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            list(spec.argv), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the second gateway exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the second gateway was not ready:\n{log_path.read_text()}")


@pytest.fixture(scope="package")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    gateway_port = free_port()
    public_url = f"http://127.0.0.1:{gateway_port}"
    github = GitHubStandIn(
        "Iv1.replicas0123456", secrets.token_hex(20), redirect_uri=f"{public_url}/login/github/callback"
    )
    github.start()
    env = isolated_system_env(
        nats,
        redis,
        GATEWAY_PORT=str(gateway_port),
        PUBLIC_URL=public_url,
        RATE_LIMIT_PER_SECOND=str(RATE),
        RATE_LIMIT_BURST=str(BURST),
        GITHUB_CLIENT_ID=github.client_id,
        GITHUB_CLIENT_SECRET=github.client_secret,
        GITHUB_URL=github.url,
        GITHUB_API_URL=github.url,
        DELINKCIOUS_READY_TIMEOUT="90",
    )
    env.pop("TOKEN_CACHE_SECONDS", None)  # the default, 5 s: far longer than the 100 ms allowed
    log = io.StringIO()
    local = LocalSystem(tmp_path_factory.mktemp("replicas") / "data", env=env, out=log)
    b_log = Path(tempfile.mkdtemp(prefix="dlk-gateway-b-")) / "gateway.log"
    second: subprocess.Popen[bytes] | None = None
    try:
        urls = local.start()
        second, b_url = _start_second_gateway(local, b_log)
        running = Replicas(local, redis, github, urls["api-gateway"], b_url, urls["user-manager"], log, b_log)
        running.wait_until_subscribed()
        yield running
    except BaseException:
        print(log.getvalue())
        if b_log.exists():
            print(b_log.read_text())
        raise
    finally:
        if second is not None:
            os.killpg(second.pid, 15)
            second.wait(15)
        local.stop()
        github.close()
        nats.close()
        redis.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"
