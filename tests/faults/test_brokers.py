"""Redis and NATS lost under a running system: what needs them answers `503
unavailable` (never a 500), what does not keeps working, the services' /readyz name
the one that is gone, and everything recovers once it is back. The gateway's own
readiness stays 200 throughout: it can still route, and the routes say what failed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.faults.support import Running, assert_not_ready, assert_unavailable, eventually, started
from tests.servers import NatsServer, RedisServer, isolated_system_env

BEHIND_THE_GATEWAY = ["link-manager", "user-manager", "social-graph-manager", "news-manager", "api-gateway"]


@pytest.fixture(scope="module")
def brokers() -> Iterator[tuple[NatsServer, RedisServer]]:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    yield nats, redis
    nats.close()
    redis.close()


@pytest.fixture(scope="module")
def run(
    brokers: tuple[NatsServer, RedisServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    nats, redis = brokers
    env = isolated_system_env(nats, redis, DELINKCIOUS_READY_TIMEOUT="90")
    with started(tmp_path_factory.mktemp("brokers") / "data", env, only=BEHIND_THE_GATEWAY) as running:
        yield running
    running.assert_no_500()


def news_ready_url(run: Running) -> str:
    [spec] = [s for s in run.system.specs if s.name == "news-manager"]
    assert spec.ready_url is not None
    return spec.ready_url


def login(api: httpx.Client, username: str) -> dict[str, str]:
    answer = api.post("/login/dev", json={"username": username})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def news_of(api: httpx.Client, who: dict[str, str]) -> list[dict[str, Any]]:
    answer = api.get("/v1/news", headers=who)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def test_redis_lost_is_a_503_for_the_news_and_nothing_else(
    run: Running, brokers: tuple[NatsServer, RedisServer]
) -> None:
    _, redis = brokers
    with run.client("api-gateway") as api, httpx.Client(trust_env=False, timeout=10) as plain:
        cat, dan = login(api, "cat"), login(api, "dan")
        assert api.post("/v1/following", headers=dan, json={"followed": "cat"}).status_code == 204
        assert news_of(api, dan) == []
        redis.stop()
        try:
            assert_unavailable(api.get("/v1/news", headers=dan))
            assert_not_ready(plain.get(news_ready_url(run)), "redis")
            # Routes that do not read the feeds are untouched, the gateway still routes.
            assert api.post("/v1/links", headers=cat, json={"url": "https://e.com/r"}).status_code == 201
            assert api.get("/v1/following", headers=dan).status_code == 200
            assert api.get("/readyz").status_code == 200
        finally:
            redis.start()
        eventually(lambda: plain.get(news_ready_url(run)).status_code, lambda s: s == 200, "news readiness")
        # The event of the link saved while Redis was away reaches the feed after all.
        [event] = eventually(lambda: news_of(api, dan), bool, "dan's news")
        assert event["url"] == "https://e.com/r"


def test_nats_lost_keeps_every_request_working_and_readiness_names_it(
    run: Running, brokers: tuple[NatsServer, RedisServer]
) -> None:
    nats, _ = brokers
    with run.client("api-gateway") as api, run.client("link-manager") as links:
        eve, fay = login(api, "eve"), login(api, "fay")
        assert api.post("/v1/following", headers=fay, json={"followed": "eve"}).status_code == 204
        nats.stop()
        try:
            eventually(lambda: links.get("/readyz").status_code, lambda s: s == 503, "link-manager readiness")
            assert_not_ready(links.get("/readyz"), "nats")
            with httpx.Client(trust_env=False, timeout=10) as plain:
                assert_not_ready(plain.get(news_ready_url(run)), "nats")
            # A save waits in the outbox: the write needs the database, not the bus.
            saved = api.post("/v1/links", headers=eve, json={"url": "https://e.com/n"})
            assert saved.status_code == 201, saved.text
            assert api.get("/v1/links", headers=eve).status_code == 200
            assert api.get("/v1/news", headers=fay).status_code == 200
        finally:
            nats.start()
        eventually(lambda: links.get("/readyz").status_code, lambda s: s == 200, "link-manager readiness")
        [event] = eventually(lambda: news_of(api, fay), bool, "fay's news")
        assert event["url"] == "https://e.com/n"
