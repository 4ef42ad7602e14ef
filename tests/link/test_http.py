"""link-manager's HTTP API with the app's lifespan running (migrations, engine),
on Postgres and SQLite: caller checks, the happy path and a bad-input table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from link_service.settings import LinkSettings
from link_service.store import LinkQuery
from link_service.transport import create_app
from tests.conftest import CALLER_SECRETS, caller_tokens_env

GATEWAY = {"Delinkcious-Caller-Token": CALLER_SECRETS["api-gateway"]}
CHECKER = {"Delinkcious-Caller-Token": CALLER_SECRETS["link-checker"]}
LINKS = "/users/alice/links"


@pytest.fixture
def client(database_url: str, nats_url: str) -> Iterator[TestClient]:
    settings = LinkSettings(
        LINK_MANAGER_DATABASE_URL=database_url,
        CALLER_TOKENS=caller_tokens_env("api-gateway", "link-checker"),
        PAGE_TOKEN_KEY="http-test-page-token-key",
        MAX_LINKS_PER_USER=3,
        NATS_URL=nats_url,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_crud_round_trip(client: TestClient) -> None:
    r = client.post(LINKS, json={"url": "https://e.com/a", "title": "A", "tags": ["X", "y"]}, headers=GATEWAY)
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["status"] == "pending" and link["tags"] == ["x", "y"] and link["checked_at"] is None
    assert link["created_at"].endswith("Z")
    r = client.put(
        LINKS, json={"url": "https://e.com/a", "add_tags": ["z"], "remove_tags": ["x"]}, headers=GATEWAY
    )
    assert r.status_code == 200 and r.json()["tags"] == ["y", "z"] and r.json()["title"] == "A"
    r = client.get(LINKS, params={"tag": ["z", "Y"], "title_regex": "^a$"}, headers=GATEWAY)
    assert [x["url"] for x in r.json()["links"]] == ["https://e.com/a"] and r.json()["next_page_token"] == ""
    r = client.delete(LINKS, params={"url": "https://e.com/a"}, headers=GATEWAY)
    assert r.status_code == 204 and r.content == b""
    assert client.get(LINKS, headers=GATEWAY).json() == {"links": [], "next_page_token": ""}


def test_conflicts_and_limit(client: TestClient) -> None:
    for i in range(3):
        assert client.post(LINKS, json={"url": f"https://e.com/{i}"}, headers=GATEWAY).status_code == 201
    assert_error(client.post(LINKS, json={"url": "https://e.com/0"}, headers=GATEWAY), 409, "already_exists")
    assert_error(client.post(LINKS, json={"url": "https://e.com/9"}, headers=GATEWAY), 409, "limit_exceeded")
    assert_error(client.delete(LINKS, params={"url": "https://e.com/9"}, headers=GATEWAY), 404, "not_found")
    assert_error(
        client.put(LINKS, json={"url": "https://e.com/9", "title": "x"}, headers=GATEWAY), 404, "not_found"
    )


def test_link_checker_applies_results_and_only_it_may(client: TestClient) -> None:
    client.post(LINKS, json={"url": "https://e.com/a"}, headers=GATEWAY)
    store = client.app.state.store  # type: ignore[attr-defined]
    link_id = store.find(LinkQuery(owner="alice"))[0].id
    result = {
        "link_id": link_id,
        "username": "alice",
        "url": "https://e.com/a",
        "status": "valid",
        "title": "Found",
        "checked_at": "2026-11-25T12:00:00Z",
    }
    assert_error(client.post("/link-checks", json=result, headers=GATEWAY), 403, "permission_denied")
    r = client.post("/link-checks", json=result, headers=CHECKER)
    assert r.status_code == 200 and r.json() == {"applied": True}
    link = client.get(LINKS, headers=GATEWAY).json()["links"][0]
    assert (link["status"], link["title"], link["checked_at"]) == (
        "valid",
        "Found",
        "2026-11-25T12:00:00.000000Z",
    )
    assert_error(client.get(LINKS, headers=CHECKER), 403, "permission_denied")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", LINKS),
        ("POST", LINKS),
        ("PUT", LINKS),
        ("DELETE", LINKS + "?url=https://e.com"),
        ("POST", "/link-checks"),
    ],
)
def test_every_route_requires_a_known_caller(client: TestClient, method: str, path: str) -> None:
    assert_error(client.request(method, path, json={}), 401, "unauthenticated")
    bad = {"Delinkcious-Caller-Token": "not-a-real-caller-token"}
    assert_error(client.request(method, path, json={}, headers=bad), 401, "unauthenticated")


def test_paging_through_http_with_tampered_token(client: TestClient) -> None:
    for i in range(3):
        client.post(LINKS, json={"url": f"https://e.com/{i}"}, headers=GATEWAY)
    first = client.get(LINKS, params={"page_size": 2}, headers=GATEWAY).json()
    token = first["next_page_token"]
    second = client.get(LINKS, params={"page_size": 2, "start_token": token}, headers=GATEWAY).json()
    assert [x["url"] for x in first["links"] + second["links"]] == [f"https://e.com/{i}" for i in (2, 1, 0)]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_error(
        client.get(LINKS, params={"page_size": 2, "start_token": forged}, headers=GATEWAY),
        400,
        "invalid_argument",
    )


LONG = "x" * 10_001
BAD_INPUT = [
    # (method, path, kwargs, status, code)
    ("POST", LINKS, {"content": b"{not json"}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": ["https://e.com"]}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": 5}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "ftp://e.com/a"}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "javascript:alert(1)"}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://"}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "/relative"}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com/" + "a" * 2048}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "title": "t" * 501}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "description": LONG}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "tags": "python"}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "tags": ["a b"]}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "tags": ["a,b"]}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "tags": [""]}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "tags": ["t" * 65]}}, 400, "invalid_argument"),
    (
        "POST",
        LINKS,
        {"json": {"url": "https://e.com", "tags": [f"t{i}" for i in range(51)]}},
        400,
        "invalid_argument",
    ),
    ("POST", LINKS, {"json": {"url": "https://e.com", "tags": [1]}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "status": "valid"}}, 400, "invalid_argument"),
    ("POST", LINKS, {"json": {"url": "https://e.com", "pad": "x" * (1024 * 1024)}}, 413, "payload_too_large"),
    ("POST", "/users/Alice/links", {"json": {"url": "https://e.com"}}, 400, "invalid_argument"),
    ("POST", "/users/-alice/links", {"json": {"url": "https://e.com"}}, 400, "invalid_argument"),
    ("POST", "/users/" + "a" * 40 + "/links", {"json": {"url": "https://e.com"}}, 400, "invalid_argument"),
    ("PUT", LINKS, {"json": {"title": "no url"}}, 400, "invalid_argument"),
    ("PUT", LINKS, {"json": {"url": "https://e.com", "add_tags": "x"}}, 400, "invalid_argument"),
    (
        "PUT",
        LINKS,
        {"json": {"url": "https://e.com", "add_tags": ["x"], "remove_tags": ["X"]}},
        400,
        "invalid_argument",
    ),
    (
        "PUT",
        LINKS,
        {"json": {"url": "https://e.com", "title": None, "description": 3}},
        400,
        "invalid_argument",
    ),
    ("PUT", LINKS, {"content": b"[1,2"}, 400, "invalid_argument"),
    ("DELETE", LINKS, {}, 400, "invalid_argument"),
    ("DELETE", LINKS + "?url=notaurl", {}, 400, "invalid_argument"),
    ("GET", LINKS + "?title_regex=(", {}, 400, "invalid_argument"),
    ("GET", LINKS + "?url_regex=[a-", {}, 400, "invalid_argument"),
    ("GET", LINKS + "?description_regex=" + "a" * 257, {}, 400, "invalid_argument"),
    ("GET", LINKS + "?page_size=0", {}, 400, "invalid_argument"),
    ("GET", LINKS + "?page_size=101", {}, 400, "invalid_argument"),
    ("GET", LINKS + "?page_size=ten", {}, 400, "invalid_argument"),
    ("GET", LINKS + "?start_token=garbage", {}, 400, "invalid_argument"),
    ("GET", LINKS + "?tag=a%20b", {}, 400, "invalid_argument"),
    ("POST", "/link-checks", {"json": {"link_id": "x"}}, 400, "invalid_argument"),
    ("PATCH", LINKS, {"json": {}}, 405, "method_not_allowed"),
    ("GET", "/nowhere", {}, 404, "not_found"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), BAD_INPUT)
def test_bad_input_gets_the_documented_error(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    client.post(LINKS, json={"url": "https://e.com"}, headers=GATEWAY)
    headers = CHECKER if path == "/link-checks" else GATEWAY
    if "content" in kwargs:
        headers = {**headers, "Content-Type": "application/json"}
    assert_error(client.request(method, path, headers=headers, **kwargs), status, code)


def test_ops_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checked"] == ["database", "nats"]
    client.post(LINKS, json={"url": "https://e.com"}, headers=GATEWAY)
    metrics = client.get("/metrics").text
    assert (
        'http_server_requests_total{method="POST",route="/users/{username}/links",service="link-manager",status="201"}'
        in metrics
    )
