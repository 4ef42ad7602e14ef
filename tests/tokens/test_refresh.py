"""Cached tokens in use are validated again in the background before their entries
expire: against a real user-manager (in-process, its real UserClient and caller token),
with the cache on a clock the test moves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api_gateway.auth import TokenCache, token_owner
from api_gateway.token_refresh import TokenRefresher
from delinkcious.callers import CALLER_TOKEN_HEADER
from delinkcious.clients.user import UserClient
from delinkcious.errors import Unauthenticated
from tests.conftest import CALLER_SECRETS
from tests.databases import sqlite_database
from tests.tokens.test_cache import Clock
from user_service.settings import UserSettings
from user_service.transport import create_app as create_user_app

GATEWAY = {CALLER_TOKEN_HEADER: CALLER_SECRETS["api-gateway"]}
TTL = 5.0  # with both spreads at 0, the refresh window is the entry's last fifth: from 4 s on


@pytest.fixture
def users(tmp_path: Path) -> Iterator[TestClient]:
    settings = UserSettings(
        USER_MANAGER_DATABASE_URL=sqlite_database(tmp_path),
        CALLER_TOKENS={name: CALLER_SECRETS[name] for name in ("api-gateway", "social-graph-manager")},
    )
    with TestClient(create_user_app(settings)) as client:
        yield client


def login_token(users: TestClient, username: str) -> str:
    identity = {"provider": "github", "subject": f"id-{username}", "username": username}
    assert users.post("/identities/login", json=identity, headers=GATEWAY).status_code == 200
    response = users.post(f"/users/{username}/tokens", headers=GATEWAY)
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


def client_of(users: TestClient) -> UserClient:
    transport = httpx.ASGITransport(app=users.app)
    return UserClient("http://user-manager", CALLER_SECRETS["api-gateway"], transport=transport)


def refreshing(client: UserClient) -> tuple[Clock, TokenCache, TokenRefresher]:
    """A cache on the test's clock (every lifetime the whole TTL, every refresh window
    its last fifth) and its refresher."""
    clock = Clock()
    cache = TokenCache(TTL, clock=clock, spread=lambda: 0.0, refresh_spread=lambda: 0.0)
    return clock, cache, TokenRefresher(cache, client)


def test_a_token_in_use_is_renewed_in_the_background_and_dropped_once_revoked(users: TestClient) -> None:
    token = login_token(users, "alice")

    async def scenario() -> None:
        client = client_of(users)
        clock, cache, refresher = refreshing(client)
        cache.put(token, await client.validate_token(token))
        clock.now += 3.9
        assert not cache.claim_refresh(token)  # not yet in its last fifth
        clock.now += 0.2
        assert cache.claim_refresh(token)
        assert not cache.claim_refresh(token)  # one refresh at a time
        refresher.refresh(token)
        await refresher.join()
        clock.now += 4.5  # past the first entry's expiry (5 s): the renewed one serves
        owner = cache.get(token)
        assert owner is not None and owner.username == "alice"
        # Revoked at user-manager behind the cache's back (as by another replica
        # without the shared channel): the next refresh finds out and drops it.
        assert users.post("/tokens/revoke", json={"token": token}, headers=GATEWAY).status_code == 204
        assert cache.claim_refresh(token)
        refresher.refresh(token)
        await refresher.join()
        assert cache.get(token) is None  # before the renewed entry would have expired
        await client.aclose()

    asyncio.run(scenario())


def test_entries_cached_together_come_due_for_refresh_between_50_and_80_percent_of_their_lifetime() -> None:
    clock = Clock()
    cache = TokenCache(TTL, clock=clock, spread=lambda: 0.0)  # the real refresh spread
    tokens = [f"dlkp_{i}" for i in range(200)]
    owner = SimpleNamespace(username="alice", token_id=None, expires_at=None)
    for token in tokens:
        cache.put(token, owner)  # type: ignore[arg-type]
    clock.now += 2.49
    assert not any(cache.claim_refresh(t) for t in tokens)  # none before half the lifetime
    clock.now += 0.76  # 65%: the middle of the spread
    due = sum(cache.claim_refresh(t) for t in tokens)
    assert 40 < due < 160  # about half: spread, not all at once
    clock.now += 0.76  # just past 80%
    assert sum(cache.claim_refresh(t) for t in tokens) == len(tokens) - due  # every other one
    assert all(cache.get(t) is owner for t in tokens)  # all still served meanwhile


def test_a_failed_refresh_leaves_the_entry_to_expire_as_it_would(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        unreachable = UserClient("http://127.0.0.1:9", "secret", timeout=httpx.Timeout(1.0))
        clock, cache, refresher = refreshing(unreachable)
        owner = SimpleNamespace(username="alice", token_id=None, expires_at=None)
        cache.put("dlk_x", owner)  # type: ignore[arg-type]
        clock.now += 4.5
        assert cache.claim_refresh("dlk_x")
        with caplog.at_level(logging.WARNING):
            refresher.refresh("dlk_x")
            await refresher.join()
        assert cache.get("dlk_x") is owner  # kept until its own expiry
        assert not cache.claim_refresh("dlk_x")  # and not retried meanwhile
        clock.now += 0.5
        assert cache.get("dlk_x") is None
        await unreachable.aclose()

    asyncio.run(scenario())
    assert "token refresh failed" in caplog.text


def test_a_request_in_the_window_is_answered_from_the_entry_and_starts_the_refresh(users: TestClient) -> None:
    token = login_token(users, "bob")

    async def scenario() -> None:
        client = client_of(users)
        clock, cache, refresher = refreshing(client)
        state = SimpleNamespace(token_cache=cache, users=client, token_refresher=refresher)
        request: Any = SimpleNamespace(app=SimpleNamespace(state=state), state=SimpleNamespace())
        assert (await token_owner(request, token, allow_feeds=False)).username == "bob"  # validated, cached
        assert users.post("/tokens/revoke", json={"token": token}, headers=GATEWAY).status_code == 204
        clock.now += 4.5
        # Still within the entry's lifetime: served from it, with a refresh started...
        assert (await token_owner(request, token, allow_feeds=False)).username == "bob"
        await refresher.join()
        # ...which found the revocation: the next request validates on its path, refused.
        with pytest.raises(Unauthenticated):
            await token_owner(request, token, allow_feeds=False)
        await client.aclose()

    asyncio.run(scenario())
