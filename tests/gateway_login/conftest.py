"""The gateway's login routes against real things: user-manager as its own process on a
real Postgres, a real OpenID Connect provider (Node), and a GitHub stand-in."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api_gateway.settings import GatewaySettings
from api_gateway.transport import create_app
from tests.conftest import CALLER_SECRETS, caller_tokens_env
from tests.databases import fresh_postgres_database
from tests.gateway_login.github_standin import GitHubStandIn
from tests.gateway_login.providers import Browser, OidcProviderProcess
from tests.servers import free_port

PUBLIC_URL = "http://testserver"  # the TestClient's host: callbacks come back to it
SESSION_SECRET = "test-session-secret-for-login-cookies-0123"
OIDC_CLIENT_ID = "delinkcious-gateway"
GITHUB_CLIENT_ID = "Iv1.0123456789abcdef"


@pytest.fixture(scope="module")
def user_manager_url(postgres_admin_url: str) -> Iterator[str]:
    """user-manager as `python -m user_service`, as it runs in production."""
    with fresh_postgres_database(postgres_admin_url) as database_url:
        port = free_port()
        env = {
            **os.environ,
            "USER_MANAGER_DATABASE_URL": database_url,
            "CALLER_TOKENS": caller_tokens_env("api-gateway", "social-graph-manager"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        log = Path(tempfile.mkdtemp(prefix="dlk-users-")) / "user-manager.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "user_service"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"user-manager exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"user-manager was not ready in time:\n{log.read_text()}")


def gateway_settings(user_manager_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "CALLER_TOKEN": CALLER_SECRETS["api-gateway"],
        "USER_MANAGER_URL": user_manager_url,
        "PUBLIC_URL": PUBLIC_URL,
        "SESSION_SECRET": SESSION_SECRET,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@contextmanager
def running_gateway(settings: GatewaySettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=PUBLIC_URL, follow_redirects=False) as client:
        yield client


def callback(gateway: TestClient, url: str) -> httpx.Response:
    """Lands the browser on the gateway callback URL the provider redirected it to."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, url
    return gateway.get(f"{parts.path}?{parts.query}")


def with_query(url: str, **changes: str) -> str:
    """The same URL with some query parameters changed: a tampered callback."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}"


def assert_error(response: httpx.Response, status: int, code: str, *fragments: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    for fragment in fragments:
        assert fragment in body["error"]["message"], body


# ---------------------------------------------------------------------- OpenID Connect


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[OidcProviderProcess]:
    provider = OidcProviderProcess(
        OIDC_CLIENT_ID, secrets.token_urlsafe(24), redirect_uri=f"{PUBLIC_URL}/login/oidc/callback"
    )
    provider.start()
    yield provider
    provider.stop()


def oidc_settings(provider: OidcProviderProcess, user_manager_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
    }
    return gateway_settings(user_manager_url, **{**values, **overrides})


@pytest.fixture
def oidc_gateway(oidc_provider: OidcProviderProcess, user_manager_url: str) -> Iterator[TestClient]:
    with running_gateway(oidc_settings(oidc_provider, user_manager_url)) as client:
        yield client


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A fresh browser session at the provider (nobody signed in there yet)."""
    b = Browser(callback_prefix=f"{PUBLIC_URL}/login/")
    yield b
    b.close()


# ---------------------------------------------------------------------- GitHub


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    standin = GitHubStandIn(
        GITHUB_CLIENT_ID, secrets.token_hex(20), redirect_uri=f"{PUBLIC_URL}/login/github/callback"
    )
    standin.start()
    yield standin
    standin.close()


def github_settings(standin: GitHubStandIn, user_manager_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "GITHUB_CLIENT_ID": standin.client_id,
        "GITHUB_CLIENT_SECRET": standin.client_secret,
        "GITHUB_URL": standin.url,
        "GITHUB_API_URL": standin.url,
    }
    return gateway_settings(user_manager_url, **{**values, **overrides})


@pytest.fixture
def github_gateway(github: GitHubStandIn, user_manager_url: str) -> Iterator[TestClient]:
    with running_gateway(github_settings(github, user_manager_url)) as client:
        yield client
