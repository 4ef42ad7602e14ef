"""The list cache across two replicas: a page one replica keeps is not served after a
change through the other, and while Redis is away neither keeps pages."""

from __future__ import annotations

import time
from typing import Any

import httpx

from api_gateway.shared_state import BACKOFF_SECONDS
from tests.replicas.conftest import RATE, Replicas, unique

LOOKUPS = "delinkcious_gateway_list_cache_lookups_total"


def listed(base_url: str, token: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/v1/links", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    links: list[dict[str, Any]] = response.json()["links"]
    return links


def checked(base_url: str, token: str) -> list[dict[str, Any]]:
    """The page once no link on it is pending, polled within the replicas' rate limit."""
    deadline = time.monotonic() + 30
    while True:
        page = listed(base_url, token)
        if all(link["status"] != "pending" for link in page) or time.monotonic() > deadline:
            return page
        time.sleep(1.5 / RATE)


def save(base_url: str, token: str, url: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{base_url}/v1/links", json={"url": url}, headers=headers).status_code == 201


def test_a_change_through_one_replica_shows_at_once_on_the_other(replicas: Replicas) -> None:
    token = replicas.login(unique("lists"))
    first, second = "http://127.0.0.1:9/first", "http://127.0.0.1:9/second"
    save(replicas.a, token, first)
    assert [link["status"] for link in checked(replicas.a, token)] == ["invalid"]  # a private address

    hits = replicas.metric(replicas.a, LOOKUPS, outcome="hit")
    assert [link["url"] for link in listed(replicas.a, token)] == [first]
    assert replicas.metric(replicas.a, LOOKUPS, outcome="hit") == hits + 1  # kept by replica a

    save(replicas.b, token, second)
    assert [link["url"] for link in listed(replicas.a, token)] == [second, first]

    checked(replicas.a, token)
    listed(replicas.a, token)  # kept again
    headers = {"Authorization": f"Bearer {token}"}
    deleted = httpx.delete(f"{replicas.b}/v1/links", params={"url": second}, headers=headers)
    assert deleted.status_code == 204
    assert [link["url"] for link in listed(replicas.a, token)] == [first]


def test_with_redis_away_lists_are_fetched_every_time(replicas: Replicas) -> None:
    token = replicas.login(unique("lists-outage"))
    save(replicas.a, token, "http://127.0.0.1:9/outage")
    checked(replicas.a, token)
    replicas.redis.stop()
    try:
        bypassed = replicas.metric(replicas.a, LOOKUPS, outcome="bypass")
        for _ in range(3):
            assert [link["url"] for link in listed(replicas.a, token)] == ["http://127.0.0.1:9/outage"]
        assert replicas.metric(replicas.a, LOOKUPS, outcome="bypass") == bypassed + 3
        # A change through the other replica, which cannot count it in Redis either.
        save(replicas.b, token, "http://127.0.0.1:9/during")
        assert len(listed(replicas.a, token)) == 2
    finally:
        replicas.redis.start()
    replicas.wait_until_subscribed()
    time.sleep(BACKOFF_SECONDS + 0.2)
    assert len(checked(replicas.a, token)) == 2
