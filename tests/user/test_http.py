"""user-manager's internal HTTP API, served by the real app (lifespan, migrations, database)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from delinkcious.callers import CALLER_TOKEN_HEADER
from delinkcious.settings import load_settings
from tests.conftest import CALLER_SECRETS, caller_tokens_env
from user_service.settings import UserSettings
from user_service.transport import create_app

GATEWAY = {CALLER_TOKEN_HEADER: CALLER_SECRETS["api-gateway"]}
SOCIAL = {CALLER_TOKEN_HEADER: CALLER_SECRETS["social-graph-manager"]}
JSON = {"content-type": "application/json"}
OVER_1_MIB = b"x" * (1024 * 1024 + 1)
ALICE = {"provider": "github", "subject": "1", "username": "Alice", "name": "Alice", "email": "a@example.com"}


def settings_for(database_url: str) -> UserSettings:
    return UserSettings.model_validate(
        {
            "USER_MANAGER_DATABASE_URL": database_url,
            "CALLER_TOKENS": {c: CALLER_SECRETS[c] for c in ("api-gateway", "social-graph-manager")},
        }
    )


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    # A 500 must show up as a failed status assertion, not as an exception in the test.
    with TestClient(create_app(settings_for(database_url)), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def alice_token(client: TestClient) -> str:
    assert client.post("/identities/login", json=ALICE, headers=GATEWAY).status_code == 200
    response = client.post("/users/alice/tokens", headers=GATEWAY)
    assert response.status_code == 201
    token: str = response.json()["access_token"]
    return token


def assert_error(response: Any, status: int, code: str) -> None:
    """Exactly this status, with api.md's error body and a message for a person."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"error": {"code": code, "message": body["error"]["message"]}}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


# ---------------------------------------------------------------- callers

ROUTES = [
    ("POST", "/identities/login", {"json": ALICE}),
    ("GET", "/users/alice", {}),
    ("POST", "/users/alice/tokens", {}),
    ("POST", "/tokens/validate", {"json": {"token": "dlk_x"}}),
    ("POST", "/tokens/revoke", {"json": {"token": "dlk_x"}}),
    ("POST", "/users/alice/api-tokens", {"json": {"name": "script"}}),
    ("GET", "/users/alice/api-tokens", {}),
    ("DELETE", "/users/alice/api-tokens/some-id", {}),
]
ROUTE_IDS = [f"{m} {p}" for m, p, _ in ROUTES]


@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES, ids=ROUTE_IDS)
def test_every_route_needs_a_known_caller(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    assert_error(client.request(method, path, **kwargs), 401, "unauthenticated")
    for token in (
        "not-a-caller-token-at-all",
        "",
        CALLER_SECRETS["news-manager"],
        CALLER_SECRETS["api-gateway"] + "x",
        CALLER_SECRETS["api-gateway"][:-1],
    ):
        response = client.request(method, path, headers={CALLER_TOKEN_HEADER: token}, **kwargs)
        assert_error(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    ("method", "path", "kwargs"), ROUTES[:1] + ROUTES[2:], ids=ROUTE_IDS[:1] + ROUTE_IDS[2:]
)
def test_social_graph_manager_may_not_use_gateway_only_routes(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    assert_error(client.request(method, path, headers=SOCIAL, **kwargs), 403, "permission_denied")


def test_social_graph_manager_may_look_users_up(client: TestClient) -> None:
    client.post("/identities/login", json=ALICE, headers=GATEWAY)
    response = client.get("/users/alice", headers=SOCIAL)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert_error(client.get("/users/nobody", headers=SOCIAL), 404, "not_found")


# ---------------------------------------------------------------- happy paths


def test_login_creates_then_refreshes_the_user(client: TestClient) -> None:
    first = client.post("/identities/login", json=ALICE, headers=GATEWAY)
    assert first.status_code == 200
    user = first.json()
    assert user == {
        "username": "alice",
        "name": "Alice",
        "email": "a@example.com",
        "created_at": user["created_at"],
    }
    assert user["created_at"].endswith("Z")

    again = client.post(
        "/identities/login", json={**ALICE, "name": None, "email": "b@example.com"}, headers=GATEWAY
    )
    assert again.status_code == 200
    assert again.json() == {**user, "name": None, "email": "b@example.com"}

    assert client.get("/users/alice", headers=GATEWAY).json() == again.json()


def test_a_username_held_by_another_identity_is_a_conflict(client: TestClient) -> None:
    client.post("/identities/login", json=ALICE, headers=GATEWAY)
    response = client.post("/identities/login", json={**ALICE, "provider": "oidc"}, headers=GATEWAY)
    assert_error(response, 409, "already_exists")


def test_unknown_users_are_not_found(client: TestClient) -> None:
    assert_error(client.get("/users/nobody", headers=GATEWAY), 404, "not_found")
    assert_error(client.post("/users/nobody/tokens", headers=GATEWAY), 404, "not_found")


def test_issue_validate_and_revoke_a_token(client: TestClient) -> None:
    client.post("/identities/login", json=ALICE, headers=GATEWAY)

    issued = client.post("/users/alice/tokens", headers=GATEWAY)
    assert issued.status_code == 201
    body = issued.json()
    assert body == {"access_token": body["access_token"], "token_type": "bearer", "expires_in": 86_400}

    valid = client.post("/tokens/validate", json={"token": body["access_token"]}, headers=GATEWAY)
    assert valid.status_code == 200
    assert valid.json()["username"] == "alice"
    assert valid.json()["expires_at"].endswith("Z")

    revoked = client.post("/tokens/revoke", json={"token": body["access_token"]}, headers=GATEWAY)
    assert (revoked.status_code, revoked.content) == (204, b"")

    again = client.post("/tokens/validate", json={"token": body["access_token"]}, headers=GATEWAY)
    assert_error(again, 401, "unauthenticated")


@pytest.mark.parametrize("token", ["", "dlk_never-issued", "x" * 512])
def test_unknown_tokens_are_unauthenticated(client: TestClient, alice_token: str, token: str) -> None:
    assert_error(
        client.post("/tokens/validate", json={"token": token}, headers=GATEWAY), 401, "unauthenticated"
    )


def test_revoking_an_unknown_token_is_a_no_op(client: TestClient, alice_token: str) -> None:
    assert client.post("/tokens/revoke", json={"token": "dlk_nope"}, headers=GATEWAY).status_code == 204
    still = client.post("/tokens/validate", json={"token": alice_token}, headers=GATEWAY)
    assert still.status_code == 200


# ---------------------------------------------------------------- bad input

# (name, method, path, request kwargs, status, code): each must be refused exactly so.
BadCase = tuple[str, str, str, dict[str, Any], int, str]


def _body_cases(path: str, valid: dict[str, Any]) -> list[BadCase]:
    first_field = next(iter(valid))
    return [
        (
            "malformed JSON",
            "POST",
            path,
            {"content": b'{"token": ', "headers": JSON},
            400,
            "invalid_argument",
        ),
        ("not JSON at all", "POST", path, {"content": b"hello", "headers": JSON}, 400, "invalid_argument"),
        (
            "invalid UTF-8",
            "POST",
            path,
            {"content": b'{"a": "\xff"}', "headers": JSON},
            400,
            "invalid_argument",
        ),
        ("JSON array", "POST", path, {"json": [valid]}, 400, "invalid_argument"),
        ("JSON string", "POST", path, {"json": "x"}, 400, "invalid_argument"),
        ("JSON null", "POST", path, {"json": None}, 400, "invalid_argument"),
        ("empty body", "POST", path, {"content": b"", "headers": JSON}, 400, "invalid_argument"),
        ("no body", "POST", path, {}, 400, "invalid_argument"),
        ("form body", "POST", path, {"data": {"token": "x"}}, 400, "invalid_argument"),
        ("empty object", "POST", path, {"json": {}}, 400, "invalid_argument"),
        ("number for a string", "POST", path, {"json": {**valid, first_field: 5}}, 400, "invalid_argument"),
        ("null for a string", "POST", path, {"json": {**valid, first_field: None}}, 400, "invalid_argument"),
        ("list for a string", "POST", path, {"json": {**valid, first_field: ["x"]}}, 400, "invalid_argument"),
        ("unknown field", "POST", path, {"json": {**valid, "admin": True}}, 400, "invalid_argument"),
        (
            "lone surrogate",
            "POST",
            path,
            {"content": f'{{"{first_field}": "\\ud800"}}'.encode(), "headers": JSON},
            400,
            "invalid_argument",
        ),
        ("body over 1 MiB", "POST", path, {"content": OVER_1_MIB, "headers": JSON}, 413, "payload_too_large"),
    ]


def _username_cases(template: str, method: str) -> list[BadCase]:
    return [
        (f"username {bad!r} in path", method, template.format(bad), {}, 400, "invalid_argument")
        for bad in ("Alice", "-alice", "a" * 40, "al_ice", "al.ice", "%C3%A4", "%20alice", "alice%0A")
    ]


LOGIN_CASES: list[BadCase] = [
    *_body_cases("/identities/login", ALICE),
    *[
        (
            f"{field}={value!r}",
            "POST",
            "/identities/login",
            {"json": {**ALICE, field: value}},
            400,
            "invalid_argument",
        )
        for field, value in [
            ("username", "-alice"),
            ("username", "a" * 40),
            ("username", "al ice"),
            ("username", "al_ice"),
            ("username", ""),
            ("username", "ålice"),
            ("provider", ""),
            ("provider", "p" * 65),
            ("subject", ""),
            ("subject", "s" * 256),
            ("name", "n" * 256),
            ("email", "e" * 321),
            ("email", 5),
            ("name", {"first": "A"}),
        ]
    ],
    *[
        (
            f"missing {field}",
            "POST",
            "/identities/login",
            {"json": {k: v for k, v in ALICE.items() if k != field}},
            400,
            "invalid_argument",
        )
        for field in ("provider", "subject", "username")
    ],
]
USER_CASES: list[BadCase] = [
    *_username_cases("/users/{}", "GET"),
    ("unknown user", "GET", "/users/nobody", {}, 404, "not_found"),
    ("wrong method", "DELETE", "/users/alice", {}, 405, "method_not_allowed"),
]
ISSUE_CASES: list[BadCase] = [
    *_username_cases("/users/{}/tokens", "POST"),
    ("unknown user", "POST", "/users/nobody/tokens", {}, 404, "not_found"),
    ("body over 1 MiB", "POST", "/users/alice/tokens", {"content": OVER_1_MIB}, 413, "payload_too_large"),
    ("wrong method", "GET", "/users/alice/tokens", {}, 405, "method_not_allowed"),
]


def _token_cases(path: str) -> list[BadCase]:
    return [
        *_body_cases(path, {"token": "dlk_x"}),
        ("token over 512 characters", "POST", path, {"json": {"token": "x" * 513}}, 400, "invalid_argument"),
        ("wrong method", "GET", path, {}, 405, "method_not_allowed"),
    ]


API_TOKENS = "/users/alice/api-tokens"
CREATE_API_TOKEN_CASES: list[BadCase] = [
    *_body_cases(API_TOKENS, {"name": "script"}),
    *_username_cases("/users/{}/api-tokens", "POST"),
    *[
        (f"body {body!r}", "POST", API_TOKENS, {"json": body}, 400, "invalid_argument")
        for body in (
            {"name": ""},
            {"name": " \t "},
            {"name": "x" * 101},
            {"name": "a\x00b"},
            {"name": "ok", "scope": "admin"},
            {"name": "ok", "scope": "login"},
            {"name": "ok", "scope": ""},
            {"name": "ok", "scope": 1},
            {"scope": "full"},
        )
    ],
    ("unknown user", "POST", "/users/nobody/api-tokens", {"json": {"name": "x"}}, 404, "not_found"),
    ("wrong method", "PUT", API_TOKENS, {"json": {"name": "x"}}, 405, "method_not_allowed"),
]
LIST_API_TOKEN_CASES: list[BadCase] = [
    *_username_cases("/users/{}/api-tokens", "GET"),
    ("unknown user", "GET", "/users/nobody/api-tokens", {}, 404, "not_found"),
]
DELETE_API_TOKEN_CASES: list[BadCase] = [
    *_username_cases("/users/{}/api-tokens/some-id", "DELETE"),
    *[
        (f"id {bad!r}", "DELETE", f"{API_TOKENS}/{bad}", {}, 404, "not_found")
        for bad in ("never-issued", "a" * 33, "%00", "%C3%A4", "x%20y", "a" * 5000)
    ],
    ("unknown user", "DELETE", "/users/nobody/api-tokens/some-id", {}, 404, "not_found"),
    ("wrong method", "GET", f"{API_TOKENS}/some-id", {}, 405, "method_not_allowed"),
]

BAD_INPUT: dict[str, list[BadCase]] = {
    "login": LOGIN_CASES,
    "get_user": USER_CASES,
    "issue_token": ISSUE_CASES,
    "validate_token": _token_cases("/tokens/validate"),
    "revoke_token": _token_cases("/tokens/revoke"),
    "create_api_token": CREATE_API_TOKEN_CASES,
    "list_api_tokens": LIST_API_TOKEN_CASES,
    "delete_api_token": DELETE_API_TOKEN_CASES,
}


@pytest.mark.parametrize("route", list(BAD_INPUT))
def test_bad_input_is_refused_with_the_right_error(
    client: TestClient, alice_token: str, subtests: pytest.Subtests, route: str
) -> None:
    """One app per route and database; each case is its own subtest."""
    for name, method, path, kwargs, status, code in BAD_INPUT[route]:
        with subtests.test(name):
            headers = {**GATEWAY, **kwargs.get("headers", {})}
            response = client.request(method, path, **{**kwargs, "headers": headers})
            assert_error(response, status, code)
    # None of that may have touched alice or her token.
    assert client.post("/tokens/validate", json={"token": alice_token}, headers=GATEWAY).status_code == 200


def test_nul_characters_in_an_identity_are_invalid_not_a_server_error(client: TestClient) -> None:
    """Postgres cannot store NUL in text: unless the model refuses it, login is a 500 there
    (and silently stores it on SQLite). Fails until delinkcious.models rejects NUL."""
    for field in ("provider", "subject", "name", "email"):
        response = client.post("/identities/login", json={**ALICE, field: "a\x00b"}, headers=GATEWAY)
        assert response.status_code == 400, f"{field} with NUL: {response.status_code} {response.text}"
        assert_error(response, 400, "invalid_argument")


# ---------------------------------------------------------------- operations


def test_operations_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "checked": ["database"]})

    client.get("/users/nobody", headers=GATEWAY)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "http_server_requests_total{" in metrics.text
    assert 'service="user-manager"' in metrics.text
    assert 'route="/users/{username}"' in metrics.text  # the template, not the raw path


def test_readyz_reports_an_unreachable_database(client: TestClient) -> None:
    client.app.state.engine.dispose()  # type: ignore[attr-defined]
    client.app.state.engine = _broken_engine()  # type: ignore[attr-defined]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "unavailable"
    assert "database" in ready.json()["failed"]


def _broken_engine() -> Any:
    from delinkcious.db import create_db_engine

    # Nothing listens on port 1; connect fails fast.
    return create_db_engine("postgresql://nobody@127.0.0.1:1/nothing")


# ---------------------------------------------------------------- configuration


def test_startup_refuses_caller_tokens_missing_a_required_caller(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    monkeypatch.setenv("USER_MANAGER_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CALLER_TOKENS", caller_tokens_env("api-gateway"))

    with pytest.raises(SystemExit) as exited:
        load_settings(UserSettings)

    assert exited.value.code == 2
    assert "social-graph-manager" in capsys.readouterr().err


def test_startup_accepts_a_complete_configuration(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("USER_MANAGER_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CALLER_TOKENS", caller_tokens_env("api-gateway", "social-graph-manager"))
    settings = load_settings(UserSettings)
    assert (settings.database_url, settings.port) == (sqlite_url, 7070)
