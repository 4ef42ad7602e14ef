"""The gateway's token checks for the feed and Pinboard routes (FeedReader and
token_owner), on an in-process gateway in front of user-manager running as its own
process on Postgres. Probe routes stand in for the feed and Pinboard routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient

from api_gateway.auth import FeedReader, token_owner
from api_gateway.transport import create_app
from tests.gateway_login.conftest import PUBLIC_URL, gateway_settings, user_manager_url

__all__ = ["user_manager_url"]  # the fixture: user-manager as `python -m user_service`

probes = APIRouter()


@probes.get("/feeds/probe")
async def feed_probe(user: FeedReader) -> dict[str, str]:
    return {"username": user}


@probes.get("/pinboard/probe")
async def pinboard_probe(request: Request, auth_token: str) -> dict[str, Any]:
    username, _, token = auth_token.partition(":")
    owner = await token_owner(request, token, allow_feeds=False, username=username)
    return owner.model_dump(mode="json")


@pytest.fixture(scope="module")
def gateway(user_manager_url: str) -> Iterator[TestClient]:
    app = create_app(gateway_settings(user_manager_url, DEV_LOGIN="true"))
    app.include_router(probes)
    with TestClient(app, base_url=PUBLIC_URL, raise_server_exceptions=False) as client:
        yield client


_counter = iter(range(1_000_000))


def login(gateway: TestClient) -> tuple[str, str]:
    username = f"reader-{next(_counter)}"
    response = gateway.post("/login/dev", json={"username": username})
    assert response.status_code == 200, response.text
    return username, response.json()["access_token"]


def personal(gateway: TestClient, login_token: str, scope: str) -> dict[str, Any]:
    response = gateway.post(
        "/v1/tokens", json={"name": scope, "scope": scope}, headers={"Authorization": f"Bearer {login_token}"}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"error": {"code": code, "message": body["error"]["message"]}}, body
    message: str = body["error"]["message"]
    return message


def test_feeds_take_any_token_from_the_query(gateway: TestClient) -> None:
    username, login_token = login(gateway)
    feeds = personal(gateway, login_token, "feeds")["token"]
    full = personal(gateway, login_token, "full")["token"]
    for token in (feeds, full, login_token):
        response = gateway.get("/feeds/probe", params={"token": token})
        assert response.status_code == 200, response.text
        assert response.json() == {"username": username}
    # A reader that can send headers may use them instead.
    response = gateway.get("/feeds/probe", headers={"Authorization": f"Bearer {feeds}"})
    assert response.json() == {"username": username}


@pytest.mark.parametrize("token", ["", "  ", "dlkp_never-issued", "dlk_never-issued", "x" * 5000])
def test_feeds_refuse_bad_tokens_with_401(gateway: TestClient, token: str) -> None:
    assert_error(gateway.get("/feeds/probe", params={"token": token}), 401, "unauthenticated")


def test_feeds_without_a_token_are_401(gateway: TestClient) -> None:
    assert_error(gateway.get("/feeds/probe"), 401, "unauthenticated")


def test_a_deleted_feeds_token_stops_working_at_once(gateway: TestClient) -> None:
    _, login_token = login(gateway)
    feeds = personal(gateway, login_token, "feeds")
    assert gateway.get("/feeds/probe", params={"token": feeds["token"]}).status_code == 200
    deleted = gateway.delete(f"/v1/tokens/{feeds['id']}", headers={"Authorization": f"Bearer {login_token}"})
    assert deleted.status_code == 204
    assert_error(gateway.get("/feeds/probe", params={"token": feeds["token"]}), 401, "unauthenticated")


def test_the_pinboard_check_wants_a_full_token_of_the_named_user(gateway: TestClient) -> None:
    username, login_token = login(gateway)
    other, _ = login(gateway)
    full = personal(gateway, login_token, "full")
    feeds = personal(gateway, login_token, "feeds")

    ok = gateway.get("/pinboard/probe", params={"auth_token": f"{username}:{full['token']}"})
    assert ok.json() == {"username": username, "scope": "full", "token_id": full["id"], "expires_at": None}
    ok = gateway.get("/pinboard/probe", params={"auth_token": f"{username}:{login_token}"})
    assert ok.json()["scope"] == "login"
    ok = gateway.get("/pinboard/probe", params={"auth_token": f"{username.upper()}:{full['token']}"})
    assert ok.json()["username"] == username

    wrong_user = gateway.get("/pinboard/probe", params={"auth_token": f"{other}:{full['token']}"})
    assert_error(wrong_user, 401, "unauthenticated")
    feeds_only = gateway.get("/pinboard/probe", params={"auth_token": f"{username}:{feeds['token']}"})
    assert "feeds" in assert_error(feeds_only, 403, "permission_denied")
    for bad in (f"{username}:", f"{username}:dlkp_nope", "nobody"):
        assert_error(gateway.get("/pinboard/probe", params={"auth_token": bad}), 401, "unauthenticated")
