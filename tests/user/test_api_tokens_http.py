"""Personal API tokens through user-manager's internal HTTP API, served by the real app
on Postgres and SQLite. Caller checks and bad input are in test_http.py's tables."""

from __future__ import annotations

from fastapi.testclient import TestClient

from delinkcious.db import create_db_engine
from tests.user.helpers import dump_database
from tests.user.test_http import ALICE, GATEWAY, alice_token, assert_error, client

__all__ = ["alice_token", "client"]  # the fixtures of test_http.py, shared

TOKENS = "/users/alice/api-tokens"


def login(client: TestClient, username: str = "alice") -> None:
    body = {**ALICE, "username": username, "subject": f"subject-{username}"}
    assert client.post("/identities/login", json=body, headers=GATEWAY).status_code == 200


def test_create_list_use_and_delete(client: TestClient, database_url: str) -> None:
    login(client)
    created = client.post(TOKENS, json={"name": " ci script ", "scope": "feeds"}, headers=GATEWAY)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {
        "id": body["id"],
        "name": "ci script",
        "scope": "feeds",
        "token": body["token"],
        "created_at": body["created_at"],
        "last_used_at": None,
    }
    assert body["token"].startswith("dlkp_") and body["created_at"].endswith("Z")
    default = client.post(TOKENS, json={"name": "other"}, headers=GATEWAY).json()
    assert default["scope"] == "full"

    listed = client.get(TOKENS, headers=GATEWAY)
    assert listed.status_code == 200
    assert listed.json() == {
        "tokens": [
            {k: v for k, v in default.items() if k != "token"},
            {k: v for k, v in body.items() if k != "token"},
        ]
    }

    valid = client.post("/tokens/validate", json={"token": body["token"]}, headers=GATEWAY)
    assert valid.status_code == 200
    assert valid.json() == {"username": "alice", "scope": "feeds", "token_id": body["id"], "expires_at": None}
    used = client.get(TOKENS, headers=GATEWAY).json()["tokens"][1]
    assert used["id"] == body["id"] and used["last_used_at"] and used["last_used_at"].endswith("Z")

    engine = create_db_engine(database_url)
    try:
        everything = dump_database(engine)
    finally:
        engine.dispose()
    assert "ci script" in everything and body["token"] not in everything

    deleted = client.delete(f"{TOKENS}/{body['id']}", headers=GATEWAY)
    assert (deleted.status_code, deleted.content) == (204, b"")
    again = client.post("/tokens/validate", json={"token": body["token"]}, headers=GATEWAY)
    assert_error(again, 401, "unauthenticated")
    assert_error(client.delete(f"{TOKENS}/{body['id']}", headers=GATEWAY), 404, "not_found")
    assert [t["id"] for t in client.get(TOKENS, headers=GATEWAY).json()["tokens"]] == [default["id"]]


def test_login_tokens_validate_with_their_kind(client: TestClient, alice_token: str) -> None:
    valid = client.post("/tokens/validate", json={"token": alice_token}, headers=GATEWAY).json()
    assert valid["scope"] == "login" and valid["token_id"] is None and valid["expires_at"].endswith("Z")


def test_someone_elses_token_id_is_not_found(client: TestClient) -> None:
    login(client)
    login(client, "bob")
    bobs = client.post("/users/bob/api-tokens", json={"name": "bob's"}, headers=GATEWAY).json()

    assert_error(client.delete(f"{TOKENS}/{bobs['id']}", headers=GATEWAY), 404, "not_found")
    assert client.get(TOKENS, headers=GATEWAY).json() == {"tokens": []}
    still = client.post("/tokens/validate", json={"token": bobs["token"]}, headers=GATEWAY)
    assert still.json()["username"] == "bob"


def test_revoking_a_presented_personal_token_deletes_it(client: TestClient) -> None:
    login(client)
    created = client.post(TOKENS, json={"name": "x"}, headers=GATEWAY).json()
    revoked = client.post("/tokens/revoke", json={"token": created["token"]}, headers=GATEWAY)
    assert revoked.status_code == 204
    assert client.get(TOKENS, headers=GATEWAY).json() == {"tokens": []}
    again = client.post("/tokens/validate", json={"token": created["token"]}, headers=GATEWAY)
    assert_error(again, 401, "unauthenticated")


def test_the_limit_is_a_conflict(client: TestClient) -> None:
    login(client)
    for i in range(100):
        assert client.post(TOKENS, json={"name": f"t{i}"}, headers=GATEWAY).status_code == 201
    assert_error(client.post(TOKENS, json={"name": "too many"}, headers=GATEWAY), 409, "limit_exceeded")
    assert len(client.get(TOKENS, headers=GATEWAY).json()["tokens"]) == 100
