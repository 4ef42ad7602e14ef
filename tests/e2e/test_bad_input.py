"""Every public route refuses bad input with the documented status and error code,
and nothing answers 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import RunningSystem, unique

ME = unique("badin")
V1_ROUTES = [
    ("GET", "/v1/links"),
    ("POST", "/v1/links"),
    ("PUT", "/v1/links"),
    ("DELETE", "/v1/links?url=https://e.com"),
    ("GET", "/v1/following"),
    ("POST", "/v1/following"),
    ("DELETE", "/v1/following?followed=bob"),
    ("GET", "/v1/followers"),
    ("GET", "/v1/news"),
    ("GET", "/v1/me"),
    ("POST", "/logout"),
]

# (method, path, request kwargs, status, code)
CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/v1/links", {"content": b"{not json"}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": ["https://e.com"]}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {}}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {"url": 42}}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {"url": "ftp://e.com/x"}}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {"url": "javascript:alert(1)"}}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {"url": "e.com/no-scheme"}}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {"url": "https://e.com/" + "a" * 2048}}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {"url": "https://e.com", "title": "t" * 501}}, 400, "invalid_argument"),
    (
        "POST",
        "/v1/links",
        {"json": {"url": "https://e.com", "description": "d" * 10_001}},
        400,
        "invalid_argument",
    ),
    ("POST", "/v1/links", {"json": {"url": "https://e.com", "tags": "x"}}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {"url": "https://e.com", "tags": ["has space"]}}, 400, "invalid_argument"),
    ("POST", "/v1/links", {"json": {"url": "https://e.com", "tags": ["x" * 65]}}, 400, "invalid_argument"),
    (
        "POST",
        "/v1/links",
        {"json": {"url": "https://e.com", "tags": [str(i) for i in range(51)]}},
        400,
        "invalid_argument",
    ),
    ("POST", "/v1/links", {"json": {"url": "https://e.com", "title": "x\u0000y"}}, 400, "invalid_argument"),
    (
        "POST",
        "/v1/links",
        {"json": {"url": "https://e.com", "pad": "x" * (1024 * 1024 + 1)}},
        413,
        "payload_too_large",
    ),
    ("POST", "/v1/links", {"json": {"url": "https://e.com/dup"}}, 409, "already_exists"),
    ("PUT", "/v1/links", {"json": {"title": "no url"}}, 400, "invalid_argument"),
    ("PUT", "/v1/links", {"json": {"url": "https://e.com/dup", "add_tags": [1]}}, 400, "invalid_argument"),
    (
        "PUT",
        "/v1/links",
        {"json": {"url": "https://e.com/dup", "add_tags": ["a"], "remove_tags": ["A"]}},
        400,
        "invalid_argument",
    ),
    ("PUT", "/v1/links", {"json": {"url": "https://e.com/unknown", "title": "x"}}, 404, "not_found"),
    ("DELETE", "/v1/links", {}, 400, "invalid_argument"),
    ("DELETE", "/v1/links?url=mailto:x@e.com", {}, 400, "invalid_argument"),
    ("DELETE", "/v1/links?url=https://e.com/unknown", {}, 404, "not_found"),
    ("GET", "/v1/links?title_regex=(", {}, 400, "invalid_argument"),
    ("GET", "/v1/links?url_regex=" + "a" * 257, {}, 400, "invalid_argument"),
    ("GET", "/v1/links?page_size=0", {}, 400, "invalid_argument"),
    ("GET", "/v1/links?page_size=101", {}, 400, "invalid_argument"),
    ("GET", "/v1/links?page_size=many", {}, 400, "invalid_argument"),
    ("GET", "/v1/links?start_token=forged", {}, 400, "invalid_argument"),
    ("GET", "/v1/links?tag=", {}, 400, "invalid_argument"),
    (
        "POST",
        "/v1/following",
        {"content": b"[", "headers": {"Content-Type": "application/json"}},
        400,
        "invalid_argument",
    ),
    ("POST", "/v1/following", {"json": {}}, 400, "invalid_argument"),
    ("POST", "/v1/following", {"json": {"followed": 7}}, 400, "invalid_argument"),
    ("POST", "/v1/following", {"json": {"followed": "-bad"}}, 400, "invalid_argument"),
    ("POST", "/v1/following", {"json": {"followed": ME}}, 400, "invalid_argument"),
    ("POST", "/v1/following", {"json": {"followed": "nobody-" + "z" * 20}}, 404, "not_found"),
    ("DELETE", "/v1/following", {}, 400, "invalid_argument"),
    ("DELETE", "/v1/following?followed=not%20valid", {}, 400, "invalid_argument"),
    ("GET", "/v1/news?page_size=0", {}, 400, "invalid_argument"),
    ("GET", "/v1/news?page_size=1000", {}, 400, "invalid_argument"),
    ("GET", "/v1/news?start_token=forged", {}, 400, "invalid_argument"),
    ("PATCH", "/v1/links", {"json": {}}, 405, "method_not_allowed"),
    ("GET", "/v1/nowhere", {}, 404, "not_found"),
]
ANONYMOUS_CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/login/dev", {"json": {}}, 400, "invalid_argument"),
    ("POST", "/login/dev", {"json": {"username": ""}}, 400, "invalid_argument"),
    ("POST", "/login/dev", {"json": {"username": "-dash"}}, 400, "invalid_argument"),
    ("POST", "/login/dev", {"json": {"username": "x" * 40}}, 400, "invalid_argument"),
    ("POST", "/login/dev", {"json": {"username": ["a"]}}, 400, "invalid_argument"),
    (
        "POST",
        "/login/dev",
        {"content": b"nope", "headers": {"Content-Type": "application/json"}},
        400,
        "invalid_argument",
    ),
    # Providers without settings are off.
    ("GET", "/login/github", {}, 404, "not_found"),
    ("GET", "/login/github/callback?code=x&state=y", {}, 404, "not_found"),
    ("GET", "/login/oidc", {}, 404, "not_found"),
]


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.fixture(scope="module")
def token(system: RunningSystem) -> str:
    token = system.login(ME)
    with system.client(token) as c:
        assert c.post("/v1/links", json={"url": "https://e.com/dup"}).status_code == 201
    return token


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Access-Token": "dlk_unknown"},
    ],
    ids=["none", "unknown-bearer", "basic", "empty-bearer", "unknown-access-token"],
)
def test_every_authenticated_route_refuses_a_missing_or_bad_token(
    system: RunningSystem, method: str, path: str, headers: dict[str, str]
) -> None:
    with system.client() as c:
        assert_error(c.request(method, path, headers=headers, json={}), 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), CASES)
def test_bad_input_is_refused_with_the_documented_error(
    system: RunningSystem, token: str, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    with system.client(token) as c:
        assert_error(c.request(method, path, **kwargs), status, code)


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), ANONYMOUS_CASES)
def test_bad_login_input_is_refused(
    system: RunningSystem, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    with system.client() as c:
        assert_error(c.request(method, path, **kwargs), status, code)
