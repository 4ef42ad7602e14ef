"""Personal API tokens through the public API, with every process running: created,
listed without their secret, used wherever a login token works, refused outside the
feeds when their scope is `feeds`, and rejected the moment they are deleted."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningSystem, unique


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"error": {"code": code, "message": body["error"]["message"]}}, body
    message: str = body["error"]["message"]
    assert message
    return message


def create(system: RunningSystem, login: str, name: str = "script", **extra: Any) -> dict[str, Any]:
    with system.client(login) as c:
        response = c.post("/v1/tokens", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(system: RunningSystem, login: str) -> list[dict[str, Any]]:
    with system.client(login) as c:
        response = c.get("/v1/tokens")
    assert response.status_code == 200, response.text
    tokens: list[dict[str, Any]] = response.json()["tokens"]
    return tokens


def test_a_full_token_works_wherever_a_login_token_does(system: RunningSystem) -> None:
    user = unique("script")
    login = system.login(user)
    created = create(system, login, "  backup script ")
    assert created == {
        "id": created["id"],
        "name": "backup script",
        "scope": "full",
        "token": created["token"],
        "created_at": created["created_at"],
        "last_used_at": None,
    }
    assert created["token"].startswith("dlkp_") and created["created_at"].endswith("Z")

    tokens = listed(system, login)
    assert tokens == [{k: v for k, v in created.items() if k != "token"}]

    with system.client(created["token"]) as c:
        saved = c.post("/v1/links", json={"url": "https://example.com/by-script", "tags": ["api"]})
        assert saved.status_code == 201, saved.text
        links = c.get("/v1/links")
        assert links.status_code == 200
        assert [x["url"] for x in links.json()["links"]] == ["https://example.com/by-script"]
        assert c.get("/v1/me").json()["username"] == user
        assert c.get("/v1/tokens").json()["tokens"][0]["id"] == created["id"]
    with system.client() as c:  # the book's header too
        assert c.get("/v1/me", headers={"Access-Token": created["token"]}).json()["username"] == user

    used = listed(system, login)[0]
    assert used["last_used_at"] is not None and used["last_used_at"].endswith("Z")
    assert used["last_used_at"] >= created["created_at"]
    assert "token" not in used


def test_a_feeds_token_is_refused_outside_the_feeds(system: RunningSystem) -> None:
    login = system.login(unique("reader"))
    feeds = create(system, login, "feed reader", scope="feeds")
    assert feeds["scope"] == "feeds"

    with system.client(feeds["token"]) as c:
        attempts: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", "/v1/links", {}),
            ("POST", "/v1/links", {"json": {"url": "https://example.com/nope"}}),
            ("GET", "/v1/me", {}),
            ("GET", "/v1/news", {}),
            ("GET", "/v1/tokens", {}),
            ("POST", "/v1/tokens", {"json": {"name": "escalate"}}),
            ("DELETE", f"/v1/tokens/{feeds['id']}", {}),
            ("POST", "/logout", {}),
        ]
        for method, path, kwargs in attempts:
            message = assert_error(c.request(method, path, **kwargs), 403, "permission_denied")
            assert "feeds" in message, (method, path, message)
    with system.client(login) as c:
        assert c.get("/v1/links").json()["links"] == []  # nothing was saved
    assert [t["id"] for t in listed(system, login)] == [feeds["id"]]  # nor deleted or added


def test_a_deleted_token_is_rejected_at_once(system: RunningSystem) -> None:
    login = system.login(unique("deleter"))
    doomed, kept = create(system, login, "doomed"), create(system, login, "kept")
    with system.client(doomed["token"]) as c:
        assert c.get("/v1/me").status_code == 200  # now in the gateway's cache

    with system.client(login) as c:
        deleted = c.delete(f"/v1/tokens/{doomed['id']}")
        assert (deleted.status_code, deleted.content) == (204, b"")
    with system.client(doomed["token"]) as c:
        assert_error(c.get("/v1/me"), 401, "unauthenticated")
        assert_error(c.get("/v1/links"), 401, "unauthenticated")
    with system.client(login) as c:
        assert_error(c.delete(f"/v1/tokens/{doomed['id']}"), 404, "not_found")
    assert [t["id"] for t in listed(system, login)] == [kept["id"]]
    with system.client(kept["token"]) as c:
        assert c.get("/v1/me").status_code == 200


def test_logging_out_with_a_personal_token_deletes_it(system: RunningSystem) -> None:
    login = system.login(unique("leaver"))
    created = create(system, login)
    with system.client(created["token"]) as c:
        assert c.get("/v1/me").status_code == 200
        assert c.post("/logout").status_code == 204
        assert_error(c.get("/v1/me"), 401, "unauthenticated")
    assert listed(system, login) == []
    with system.client(login) as c:
        assert c.get("/v1/me").status_code == 200  # the login token is another token


def test_nobody_sees_or_deletes_another_users_tokens(system: RunningSystem) -> None:
    alice, bob = system.login(unique("alice")), system.login(unique("bob"))
    alices = create(system, alice)
    assert listed(system, bob) == []
    with system.client(bob) as c:
        assert_error(c.delete(f"/v1/tokens/{alices['id']}"), 404, "not_found")
    with system.client(alices["token"]) as c:
        assert c.get("/v1/me").status_code == 200


def test_a_personal_token_outlives_the_login_that_made_it(system: RunningSystem) -> None:
    """A personal token stays valid after the login that made it is logged out."""
    login = system.login(unique("owner"))
    created = create(system, login)
    with system.client(login) as c:
        assert c.post("/logout").status_code == 204
    with system.client(created["token"]) as c:
        assert c.get("/v1/me").status_code == 200


NAME_101 = "x" * 101


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"name": ""}, "empty name"),
        ({"name": "   "}, "blank name"),
        ({"name": NAME_101}, "name over 100 characters"),
        ({"name": "a\u0000b"}, "NUL in the name"),
        ({"name": "ok", "scope": "admin"}, "unknown scope"),
        ({"name": "ok", "scope": "login"}, "login is no personal scope"),
        ({"name": "ok", "scope": None}, "null scope"),
        ({}, "no name"),
        ({"name": 7}, "a number for the name"),
        ({"name": "ok", "expires": "never"}, "unknown field"),
        ([{"name": "ok"}], "not an object"),
    ],
)
def test_bad_bodies_are_400(system: RunningSystem, body: Any, why: str) -> None:
    login = system.login(unique("bad"))
    with system.client(login) as c:
        assert_error(c.post("/v1/tokens", json=body), 400, "invalid_argument")
        malformed = c.post("/v1/tokens", content=b'{"name": ', headers={"content-type": "application/json"})
        assert_error(malformed, 400, "invalid_argument")
    assert listed(system, login) == [], why


@pytest.mark.parametrize("token_id", ["never-issued", "x" * 200, "%00", "%C3%A4", "a b", "..%2F..%2Fv1"])
def test_unknown_ids_are_404(system: RunningSystem, token_id: str) -> None:
    login = system.login(unique("unknown"))
    create(system, login)
    with system.client(login) as c:
        assert_error(c.delete(f"/v1/tokens/{token_id}"), 404, "not_found")
    assert len(listed(system, login)) == 1


def test_a_name_of_exactly_100_characters_is_fine(system: RunningSystem) -> None:
    login = system.login(unique("long"))
    name = "ü" * 100
    assert create(system, login, name)["name"] == name


def test_at_most_100_tokens_per_user(system: RunningSystem) -> None:
    login = system.login(unique("hoarder"))
    with system.client(login) as c:
        for i in range(100):
            assert c.post("/v1/tokens", json={"name": f"t{i}"}).status_code == 201
        assert_error(c.post("/v1/tokens", json={"name": "one more"}), 409, "limit_exceeded")
    assert len(listed(system, login)) == 100


def test_without_a_token_the_routes_are_401(system: RunningSystem) -> None:
    with system.client() as c:
        assert_error(c.get("/v1/tokens"), 401, "unauthenticated")
        assert_error(c.post("/v1/tokens", json={"name": "x"}), 401, "unauthenticated")
        assert_error(c.delete("/v1/tokens/some-id"), 401, "unauthenticated")
    with system.client("dlkp_never-issued-at-all") as c:
        assert_error(c.get("/v1/me"), 401, "unauthenticated")


def test_openapi_documents_the_token_routes(system: RunningSystem) -> None:
    paths = httpx.get(f"{system.gateway}/openapi.json").json()["paths"]
    expected = {
        ("post", "/v1/tokens"): {"201", "400", "401", "403", "409", "429", "503"},
        ("get", "/v1/tokens"): {"200", "400", "401", "403", "429", "503"},
        ("delete", "/v1/tokens/{token_id}"): {"204", "400", "401", "403", "404", "429", "503"},
    }
    for (method, path), statuses in expected.items():
        operation = paths[path][method]
        assert operation["summary"], (method, path)
        assert statuses <= set(operation["responses"]), (method, path, operation["responses"])
    created = paths["/v1/tokens"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/CreatedApiToken"}
