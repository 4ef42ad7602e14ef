"""The internal HTTP API, with both lifespans running and a real user-manager behind it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from delinkcious.callers import CALLER_TOKEN_HEADER
from social_graph_service.transport import create_app
from tests.conftest import CALLER_SECRETS
from tests.databases import sqlite_database
from tests.social_graph.support import GATEWAY, NEWS, Apps, running_apps, social_settings


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_follow_unfollow_and_listings(database_url: str, tmp_path: Any) -> None:
    with running_apps(database_url, sqlite_database(tmp_path)) as apps:
        apps.register("alice", "bob", "carol")
        social = apps.social
        for follower, followed in [("alice", "carol"), ("alice", "bob"), ("carol", "bob")]:
            body = {"followed": followed}
            response = social.post(f"/users/{follower}/following", json=body, headers=GATEWAY)
            assert response.status_code == 204
            assert response.content == b""
        again = social.post("/users/alice/following", json={"followed": "bob"}, headers=GATEWAY)
        assert again.status_code == 204

        assert social.get("/users/alice/following", headers=GATEWAY).json() == {"following": ["bob", "carol"]}
        assert social.get("/users/bob/followers", headers=NEWS).json() == {"followers": ["alice", "carol"]}
        page = social.get("/users/bob/followers/page", params={"page_size": 1}, headers=NEWS).json()
        assert page["followers"] == ["alice"]
        rest = social.get(
            "/users/bob/followers/page",
            params={"page_size": 1, "start_token": page["next_page_token"]},
            headers=GATEWAY,
        ).json()
        assert rest == {"followers": ["carol"], "next_page_token": ""}

        for _ in range(2):  # idempotent
            assert social.delete("/users/alice/following/bob", headers=GATEWAY).status_code == 204
        assert social.get("/users/alice/following", headers=GATEWAY).json() == {"following": ["carol"]}
        assert social.get("/users/bob/followers", headers=GATEWAY).json() == {"followers": ["carol"]}
        # Unfollowing a user who never existed is as much a no-op.
        assert social.delete("/users/alice/following/nobody", headers=GATEWAY).status_code == 204


def test_following_an_unknown_user_is_404(apps: Apps) -> None:
    apps.register("alice")
    response = apps.social.post("/users/alice/following", json={"followed": "ghost"}, headers=GATEWAY)
    assert_error(response, 404, "not_found")
    assert apps.social.get("/users/alice/following", headers=GATEWAY).json() == {"following": []}


def test_following_yourself_is_400(apps: Apps) -> None:
    apps.register("alice")
    response = apps.social.post("/users/alice/following", json={"followed": "alice"}, headers=GATEWAY)
    assert_error(response, 400, "invalid_argument")
    assert "yourself" in response.json()["error"]["message"]


def test_user_manager_down_fails_follows_with_503_but_not_readiness(tmp_path: Any) -> None:
    settings = social_settings(sqlite_database(tmp_path), USER_MANAGER_URL="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as social:
        response = social.post("/users/alice/following", json={"followed": "bob"}, headers=GATEWAY)
        assert_error(response, 503, "unavailable")
        assert social.get("/users/alice/following", headers=GATEWAY).json() == {"following": []}
        ready = social.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "checked": ["database"]}


def test_operations_endpoints(apps: Apps) -> None:
    assert apps.social.get("/healthz").json() == {"status": "ok"}
    assert apps.social.get("/readyz").status_code == 200
    metrics = apps.social.get("/metrics")
    assert metrics.status_code == 200
    assert "http_server_requests_total" in metrics.text


def test_lifespan_closes_the_user_client_and_database_connections(postgres_url: str) -> None:
    app = create_app(social_settings(postgres_url))
    with TestClient(app) as social:
        assert social.get("/users/alice/followers", headers=NEWS).status_code == 200
        client = app.state.user_client
        assert not client._http.is_closed
        assert other_connections(postgres_url) > 0
    assert client._http.is_closed
    assert other_connections(postgres_url) == 0


def other_connections(url: str) -> int:
    """Sessions on this test's database besides the one asking."""
    probe = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with probe.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            )
    finally:
        probe.dispose()


# ------------------------------------------------------------------ caller tokens

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/users/alice/following", {"followed": "bob"}),
    ("DELETE", "/users/alice/following/bob", None),
    ("GET", "/users/alice/following", None),
    ("GET", "/users/alice/followers", None),
    ("GET", "/users/alice/followers/page", None),
]
ALLOWED = {
    "/users/alice/following": {"api-gateway"},
    "/users/alice/following/bob": {"api-gateway"},
    "/users/alice/followers": {"api-gateway", "news-manager"},
    "/users/alice/followers/page": {"api-gateway", "news-manager"},
}


def call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_no_caller_token_is_401(apps: Apps, method: str, path: str, body: Any) -> None:
    assert_error(call(apps.social, method, path, body, {}), 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_unknown_caller_token_is_401(apps: Apps, method: str, path: str, body: Any) -> None:
    for token in ["wrong-token-of-some-length", CALLER_SECRETS["social-graph-manager"], " "]:
        response = call(apps.social, method, path, body, {CALLER_TOKEN_HEADER: token})
        assert_error(response, 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_callers_are_admitted_route_by_route(apps: Apps, method: str, path: str, body: Any) -> None:
    apps.register("alice", "bob")
    for caller in ("api-gateway", "news-manager"):
        response = call(apps.social, method, path, body, {CALLER_TOKEN_HEADER: CALLER_SECRETS[caller]})
        if caller in ALLOWED[path]:
            assert response.status_code in (200, 204), response.text
        else:
            assert_error(response, 403, "permission_denied")


# ------------------------------------------------------------------ bad input

BIG = "a" * (1024 * 1024 + 1)

BAD_FOLLOW_BODIES: list[tuple[str, bytes, int, str]] = [
    ("malformed JSON", b'{"followed": ', 400, "invalid_argument"),
    ("not JSON at all", b"followed=bob", 400, "invalid_argument"),
    ("empty body", b"", 400, "invalid_argument"),
    ("a list", b'["bob"]', 400, "invalid_argument"),
    ("a string", b'"bob"', 400, "invalid_argument"),
    ("null", b"null", 400, "invalid_argument"),
    ("missing field", b"{}", 400, "invalid_argument"),
    ("number", b'{"followed": 5}', 400, "invalid_argument"),
    ("null field", b'{"followed": null}', 400, "invalid_argument"),
    ("list field", b'{"followed": ["bob"]}', 400, "invalid_argument"),
    ("unknown field", b'{"followed": "bob", "follower": "carol"}', 400, "invalid_argument"),
    ("uppercase", b'{"followed": "Bob"}', 400, "invalid_argument"),
    ("leading dash", b'{"followed": "-bob"}', 400, "invalid_argument"),
    ("too long", json.dumps({"followed": "b" * 40}).encode(), 400, "invalid_argument"),
    ("empty username", b'{"followed": ""}', 400, "invalid_argument"),
    ("slash", b'{"followed": "bob/x"}', 400, "invalid_argument"),
    ("oversized", json.dumps({"followed": BIG}).encode(), 413, "payload_too_large"),
]


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [case[1:] for case in BAD_FOLLOW_BODIES],
    ids=[case[0] for case in BAD_FOLLOW_BODIES],
)
def test_follow_rejects_bad_bodies(apps: Apps, content: bytes, status: int, code: str) -> None:
    apps.register("alice", "bob")
    headers = {**GATEWAY, "Content-Type": "application/json"}
    response = apps.social.post("/users/alice/following", content=content, headers=headers)
    assert_error(response, status, code)
    assert apps.social.get("/users/alice/following", headers=GATEWAY).json() == {"following": []}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_follow_needs_a_json_content_type(apps: Apps, content_type: str | None) -> None:
    apps.register("alice", "bob")
    headers = {**GATEWAY, **({"Content-Type": content_type} if content_type else {})}
    response = apps.social.post("/users/alice/following", content=b'{"followed": "bob"}', headers=headers)
    assert_error(response, 400, "invalid_argument")


def test_oversized_body_without_content_length_is_413(apps: Apps) -> None:
    """A chunked body has no Content-Length to refuse up front; the limit must still hold."""

    def chunks() -> Any:
        yield b'{"followed": "'
        for _ in range(17):
            yield b"a" * 65536
        yield b'"}'

    headers = {**GATEWAY, "Content-Type": "application/json"}
    response = apps.social.post("/users/alice/following", content=chunks(), headers=headers)
    assert_error(response, 413, "payload_too_large")


BAD_NAMES = ["Alice", "-alice", "a" * 40, "al%20ice", "al_ice", "%C3%A9"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_usernames_in_paths_are_400(apps: Apps, name: str) -> None:
    social = apps.social
    requests = [
        ("POST", f"/users/{name}/following", {"followed": "bob"}),
        ("DELETE", f"/users/{name}/following/bob", None),
        ("DELETE", f"/users/alice/following/{name}", None),
        ("GET", f"/users/{name}/following", None),
        ("GET", f"/users/{name}/followers", None),
        ("GET", f"/users/{name}/followers/page", None),
    ]
    for method, path, body in requests:
        assert_error(call(social, method, path, body, GATEWAY), 400, "invalid_argument")


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": "0"},
        {"page_size": "1001"},
        {"page_size": "-5"},
        {"page_size": "ten"},
        {"page_size": "1.5"},
        {"page_size": ""},
        {"start_token": "not-a-token"},
        {"start_token": "é"},
        {"start_token": "A" * 2000},
    ],
    ids=lambda p: f"{next(iter(p))}={next(iter(p.values()))[:12]!r}",
)
def test_followers_page_rejects_bad_queries(apps: Apps, params: dict[str, str]) -> None:
    response = apps.social.get("/users/alice/followers/page", params=params, headers=NEWS)
    assert_error(response, 400, "invalid_argument")


def test_followers_page_refuses_tampered_and_foreign_tokens(apps: Apps) -> None:
    apps.register("alice", "bob", "carol", "dave")
    for follower, followed in [("bob", "alice"), ("carol", "alice"), ("alice", "dave"), ("bob", "dave")]:
        apps.social.post(f"/users/{follower}/following", json={"followed": followed}, headers=GATEWAY)
    page = apps.social.get("/users/alice/followers/page", params={"page_size": 1}, headers=NEWS).json()
    token = page["next_page_token"]
    assert token
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    for user, bad in [("alice", tampered), ("dave", token)]:
        response = apps.social.get(
            f"/users/{user}/followers/page", params={"page_size": 1, "start_token": bad}, headers=NEWS
        )
        assert_error(response, 400, "invalid_argument")


def test_page_size_defaults_and_bounds(apps: Apps) -> None:
    apps.register("alice", "bob")
    apps.social.post("/users/bob/following", json={"followed": "alice"}, headers=GATEWAY)
    for params in ({}, {"page_size": "1"}, {"page_size": "1000"}):
        response = apps.social.get("/users/alice/followers/page", params=params, headers=NEWS)
        assert response.json() == {"followers": ["bob"], "next_page_token": ""}


def test_unknown_routes_and_methods_use_the_error_body(apps: Apps) -> None:
    assert_error(apps.social.get("/users/alice/nothing", headers=GATEWAY), 404, "not_found")
    response = apps.social.put("/users/alice/following", json={}, headers=GATEWAY)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
