"""The checker on a real NATS JetStream: it consumes new links and re-check requests,
publishes a LinkCheckResult for each, and serves the same work over `POST /check`."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from nats.aio.msg import Msg

from delinkcious.events import (
    CHECK_REQUEST_SUBJECT,
    CHECK_RESULT_SUBJECT,
    ConsumerSpec,
    EventBus,
    link_subject,
    run_consumer,
)
from delinkcious.models import CheckRequest, EventType, LinkCheckResult, LinkEvent, LinkStatus
from delinkcious.timeutil import utcnow
from link_checker.checker import CheckOutcome, check_url
from link_checker.consumers import NEW_LINKS, RECHECKS, start_consumers
from link_checker.limits import CheckLimits
from link_checker.service import LinkCheckerService
from link_checker.settings import CheckerSettings
from link_checker.transport import create_app
from tests.checker.conftest import ALLOW
from tests.checker.pages import PageServer, page
from tests.conftest import CALLER_SECRETS, caller_tokens_env
from tests.servers import NatsServer

LINK_MANAGER = {"Delinkcious-Caller-Token": CALLER_SECRETS["link-manager"]}


async def wait_until(predicate: Callable[[], bool], within: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@dataclass
class Results:
    """Every LinkCheckResult published, as a consumer of the result subject sees it."""

    received: list[tuple[LinkCheckResult, str]]

    def for_link(self, link_id: int) -> list[LinkCheckResult]:
        return [r for r, _ in self.received if r.link_id == link_id]


@pytest.fixture
async def bus(own_nats: NatsServer) -> AsyncIterator[EventBus]:
    bus = EventBus(own_nats.url, "checker-test")
    await bus.connect()
    await bus.ensure_streams()
    yield bus
    await bus.close()


@pytest.fixture
async def results(bus: EventBus) -> AsyncIterator[Results]:
    collected = Results([])

    async def collect(msg: Msg) -> None:
        collected.received.append(
            (LinkCheckResult.model_validate_json(msg.data), (msg.headers or {}).get("Nats-Msg-Id", ""))
        )

    stop = asyncio.Event()
    spec = ConsumerSpec("LINK_CHECKS", "test-results", (CHECK_RESULT_SUBJECT,))
    task = asyncio.create_task(run_consumer(bus, spec, collect, stop, retry_delay=0.05))
    yield collected
    stop.set()
    await task


def link_added(link_id: int, url: str) -> LinkEvent:
    return LinkEvent(
        event_id=str(uuid.uuid4()),
        event_type=EventType.LINK_ADDED,
        link_id=link_id,
        username="alice",
        url=url,
        title="",
        timestamp=utcnow(),
    )


async def test_new_links_and_recheck_requests_are_checked_and_reported(
    bus: EventBus, results: Results, pages: PageServer
) -> None:
    pages.routes["/ok"] = page(b"<title>Fine page</title>")

    async def check(url: str) -> CheckOutcome:
        return await check_url(url, policy=ALLOW, limits=CheckLimits(total_timeout=5))

    service = LinkCheckerService(check, bus)
    stop = asyncio.Event()
    tasks = start_consumers(service, bus, stop, workers=2)
    try:
        # Malformed messages first: they must be dropped (acknowledged), not block anything.
        await bus.publish(link_subject("link_added"), b"not json", "bad-1")
        await bus.publish(CHECK_REQUEST_SUBJECT, b'{"link_id": 1, "username": "NOT VALID"}', "bad-2")
        event = link_added(7, pages.url("/ok"))
        await bus.publish(link_subject("link_added"), event.model_dump_json().encode(), event.event_id)
        request = CheckRequest(link_id=8, username="bob", url=pages.url("/missing"))
        await bus.publish(CHECK_REQUEST_SUBJECT, request.model_dump_json().encode(), "recheck-8")

        await wait_until(lambda: bool(results.for_link(7) and results.for_link(8)))
        [added] = results.for_link(7)
        assert (added.username, added.url, added.status, added.title) == (
            "alice",
            pages.url("/ok"),
            LinkStatus.VALID,
            "Fine page",
        )
        [rechecked] = results.for_link(8)
        assert (rechecked.username, rechecked.status, rechecked.title) == ("bob", LinkStatus.INVALID, None)
        ids = {r.link_id: msg_id for r, msg_id in results.received}
        assert ids[7].startswith("check-7-") and ids[8].startswith("check-8-")

        async def settled(spec: ConsumerSpec) -> bool:
            info = await bus.js.consumer_info(spec.stream, spec.durable)
            return info.num_pending == 0 and info.num_ack_pending == 0 and info.num_redelivered == 0

        for spec in (NEW_LINKS, RECHECKS):
            deadline = asyncio.get_running_loop().time() + 10
            while not await settled(spec):
                assert asyncio.get_running_loop().time() < deadline, f"{spec.durable} did not settle"
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_deleted_link_event_is_not_checked(
    bus: EventBus, results: Results, pages: PageServer
) -> None:
    pages.routes["/ok"] = page(b"<title>Fine page</title>")
    checked: list[str] = []

    async def check(url: str) -> CheckOutcome:
        checked.append(url)
        return await check_url(url, policy=ALLOW, limits=CheckLimits(total_timeout=5))

    stop = asyncio.Event()
    tasks = start_consumers(LinkCheckerService(check, bus), bus, stop, workers=1)
    try:
        deleted = link_added(3, pages.url("/deleted")).model_copy(
            update={"event_type": EventType.LINK_DELETED}
        )
        await bus.publish(link_subject("link_deleted"), deleted.model_dump_json().encode(), deleted.event_id)
        added = link_added(4, pages.url("/ok"))
        await bus.publish(link_subject("link_added"), added.model_dump_json().encode(), added.event_id)
        await wait_until(lambda: bool(results.for_link(4)))
        assert checked == [pages.url("/ok")] and results.for_link(3) == []
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@pytest.fixture
def settings(own_nats: NatsServer) -> CheckerSettings:
    return CheckerSettings(
        NATS_URL=own_nats.url,
        CALLER_TOKENS=caller_tokens_env("link-manager"),
        LINK_CHECKER_ALLOW_PRIVATE_NETWORKS=True,
        CHECK_CONCURRENCY=2,
    )


async def test_post_check_returns_and_publishes_the_result(
    settings: CheckerSettings, bus: EventBus, results: Results, pages: PageServer
) -> None:
    pages.routes["/"] = page(b"<title>Via HTTP</title>")
    body = {"link_id": 5, "username": "bob", "url": pages.url("/")}
    with TestClient(create_app(settings)) as client:
        r = client.post("/check", json=body, headers=LINK_MANAGER)
        assert r.status_code == 200, r.text
        report = r.json()
        assert {k: report[k] for k in ("link_id", "username", "url", "status", "title", "reason")} == {
            **body,
            "status": "valid",
            "title": "Via HTTP",
            "reason": "HTTP 200",
        }
        assert report["checked_at"].endswith("Z")
        assert client.get("/readyz").status_code == 200

        # The lifespan's consumers are running: a re-check request is answered too.
        request = CheckRequest(link_id=6, username="bob", url=pages.url("/"))
        await bus.publish(CHECK_REQUEST_SUBJECT, request.model_dump_json().encode(), "recheck-6")
        await wait_until(lambda: bool(results.for_link(5) and results.for_link(6)))
    [published] = results.for_link(5)
    assert published.model_dump(mode="json") == {k: v for k, v in report.items() if k != "reason"}


def test_post_check_needs_link_manager_and_a_valid_body(settings: CheckerSettings, pages: PageServer) -> None:
    body = {"link_id": 5, "username": "bob", "url": pages.url("/")}
    with TestClient(create_app(settings)) as client:
        for headers in ({}, {"Delinkcious-Caller-Token": CALLER_SECRETS["api-gateway"]}):
            r = client.post("/check", json=body, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated", r.text
        for bad in (
            {**body, "url": "ftp://example.com/"},
            {**body, "username": "Not Valid"},
            {"link_id": 5, "username": "bob"},
            {**body, "extra": 1},
        ):
            r = client.post("/check", json=bad, headers=LINK_MANAGER)
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_argument", r.text
        r = client.post("/check", content=b"{", headers={**LINK_MANAGER, "Content-Type": "application/json"})
        assert r.status_code == 400, r.text
    assert pages.seen == []


def test_post_check_is_unavailable_while_nats_is_down(
    settings: CheckerSettings, own_nats: NatsServer, pages: PageServer
) -> None:
    pages.routes["/"] = page(b"<title>Unreported</title>")
    body = {"link_id": 5, "username": "bob", "url": pages.url("/")}
    with TestClient(create_app(settings)) as client:
        own_nats.stop()
        try:
            r = client.post("/check", json=body, headers=LINK_MANAGER)
            assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
            assert client.get("/readyz").status_code == 503
        finally:
            own_nats.start()
        # Back once NATS is: the bus reconnects on its own.
        deadline = time.monotonic() + 15
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready again after NATS came back"
            time.sleep(0.05)
        assert client.post("/check", json=body, headers=LINK_MANAGER).status_code == 200


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLER_TOKENS", json.dumps({"link-manager": CALLER_SECRETS["link-manager"]}))
    settings = CheckerSettings()
    assert (settings.port, settings.nats_url, settings.allow_private_networks) == (
        8081,
        "nats://nats:4222",
        False,
    )
    assert (settings.check_concurrency, settings.check_per_host) == (20, 2)
    assert (settings.check_timeout_seconds, settings.connect_timeout_seconds) == (10, 3)
    monkeypatch.setenv("LINK_CHECKER_ALLOW_PRIVATE_NETWORKS", "true")
    assert CheckerSettings().allow_private_networks is True
    monkeypatch.setenv("CALLER_TOKENS", "{}")
    with pytest.raises(ValueError, match="link-manager"):
        CheckerSettings()
