"""Tokens in query strings never reach the logs; HTTP Basic needs https where PUBLIC_URL
is https; the REST API's per-user rate limit holds for Pinboard clients too."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from api_gateway.settings import GatewaySettings
from api_gateway.transport import create_app
from delinkcious.logging import redact
from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import eventually
from tests.pinboard.system import RATE_LIMIT_BURST
from tests.servers import free_port


def test_tokens_in_query_strings_are_not_logged(system: RunningSystem) -> None:
    user = unique("quiet")
    token = system.login(user)
    unknown = "made-up-token-that-matches-no-secret-pattern"
    pinboard = f"{system.gateway}/pinboard/v1"
    assert httpx.get(f"{pinboard}/posts/recent", params={"auth_token": f"{user}:{token}"}).status_code == 200
    assert httpx.post(f"{pinboard}/posts/update", data={"auth_token": f"{user}:{token}"}).status_code == 200
    assert (
        httpx.get(f"{pinboard}/posts/recent", params={"auth_token": f"{user}:{unknown}"}).status_code == 401
    )
    assert httpx.get(f"{system.gateway}/feeds/links.atom", params={"token": token}).status_code == 200
    assert httpx.get(f"{system.gateway}/feeds/news.atom", params={"token": unknown}).status_code == 401

    def gateway_lines() -> list[str]:
        return [line for line in system.log.getvalue().splitlines() if "api-gateway" in line]

    lines = eventually(gateway_lines, lambda ls: any("/feeds/news.atom" in line for line in ls), within=5)
    assert any("/pinboard/v1/posts/recent" in line for line in lines)
    output = "\n".join(lines)
    assert token not in output and unknown not in output


def test_the_redaction_covers_pinboard_and_feed_parameters() -> None:
    line = (
        "GET /pinboard/v1/posts/all?auth_token=alice:abc123secret&format=json /feeds/news.atom?token=xyz789"
    )
    redacted = redact(line)
    assert "abc123secret" not in redacted and "xyz789" not in redacted
    assert "format=json" in redacted


def test_the_rest_apis_rate_limit_holds(system: RunningSystem) -> None:
    user = unique("busy")
    token = system.login(user)
    statuses = []
    with httpx.Client(base_url=f"{system.gateway}/pinboard/v1", timeout=10) as c:
        for _ in range(RATE_LIMIT_BURST * 3):
            response = c.get("user/api_token", params={"auth_token": f"{user}:{token}"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


@pytest.fixture
def https_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A gateway whose PUBLIC_URL is https, with nothing behind it: a request that gets
    past the door finds user-manager unavailable (503), one refused at it is a 401."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = GatewaySettings.model_validate(
        {
            "CALLER_TOKEN": "a-caller-token-for-this-test",
            "PUBLIC_URL": "https://bookmarks.example.com",
            "USER_MANAGER_URL": nowhere,
            "LINK_MANAGER_URL": nowhere,
            "SOCIAL_GRAPH_MANAGER_URL": nowhere,
        }
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_http_basic_over_plain_http_is_refused_where_public_url_is_https(https_gateway: TestClient) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(b"alice:some-token").decode()}
    refused = https_gateway.get("/pinboard/v1/posts/update", headers=basic)
    assert refused.status_code == 401 and "https" in refused.json()["error"]["message"]
    assert "www-authenticate" not in refused.headers  # no invitation to send it in clear
    behind_tls = https_gateway.get(
        "/pinboard/v1/posts/update", headers={**basic, "X-Forwarded-Proto": "https"}
    )
    assert behind_tls.status_code == 503
    query_token = https_gateway.get("/pinboard/v1/posts/update", params={"auth_token": "alice:some-token"})
    assert query_token.status_code == 503
