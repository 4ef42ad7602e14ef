"""After real traffic through the gateway, each service's /metrics shows the documented
metrics, and the counts moved by what the traffic did."""

from __future__ import annotations

import pytest

from tests.observability.conftest import Telemetry
from tests.observability.helpers import Samples, eventually, scrape, total, unique
from tests.observability.system import System
from tests.observability.telemetry_doc import documented_metrics

pytestmark = pytest.mark.asyncio(loop_scope="session")

LINKS_ROUTE = "/users/{username}/links"
GET_NEWS = "/delinkcious.news.v1.NewsService/GetNews"


async def _scrape_all(system: System) -> dict[str, Samples]:
    return {service: (await scrape(url))[0] for service, url in system.metrics_urls.items()}


async def _drive(system: System, author: str, reader: str) -> str:
    """Logins (one refused), a follow, a link added, listed, updated and deleted, news
    read, an unknown token and a revoked one. Returns the link's URL."""
    author_token, reader_token = await system.login(author), await system.login(reader)
    async with system.client() as anonymous:
        refused = await anonymous.post("/login/dev", json={"username": "not a username!"})
        assert refused.status_code == 400, refused.text
        unknown = await anonymous.get(
            "/v1/me", headers={"Authorization": "Bearer dlk_not-a-real-token-at-all"}
        )
        assert unknown.status_code == 401, unknown.text
    url = f"{system.pages}/metrics/{author}"
    async with system.client(reader_token) as as_reader, system.client(author_token) as as_author:
        assert (await as_reader.post("/v1/following", json={"followed": author})).status_code == 204
        assert (await as_author.post("/v1/links", json={"url": url, "title": "counted"})).status_code == 201
        assert (await as_author.get("/v1/links")).status_code == 200

        async def delivered() -> bool:
            news = await as_reader.get("/v1/news")
            assert news.status_code == 200, news.text
            return any(e["url"] == url for e in news.json()["events"])

        await eventually(delivered)
        updated = await as_author.put("/v1/links", json={"url": url, "title": "counted again"})
        assert updated.status_code == 200, updated.text
        assert (await as_author.delete("/v1/links", params={"url": url})).status_code == 204
        assert (await as_reader.post("/logout")).status_code == 204
        assert (await as_reader.get("/v1/me")).status_code == 401
    return url


async def test_each_service_shows_its_documented_metrics_and_the_traffic(
    system: System, telemetry: Telemetry
) -> None:
    before = await _scrape_all(system)
    await _drive(system, unique("author"), unique("reader"))

    async def settled() -> dict[str, Samples] | None:
        now = await _scrape_all(system)
        consumed = total(now["news-manager"], "delinkcious_events_consumed_total", durable="news-manager")
        checked = total(now["link-checker"], "delinkcious_link_checks_total")
        verdicts = total(
            now["link-manager"], "delinkcious_events_consumed_total", durable="link-manager-check-results"
        )
        base = before
        done = (
            consumed
            - total(base["news-manager"], "delinkcious_events_consumed_total", durable="news-manager")
            >= 3
            and checked > total(base["link-checker"], "delinkcious_link_checks_total")
            and verdicts
            > total(
                base["link-manager"],
                "delinkcious_events_consumed_total",
                durable="link-manager-check-results",
            )
            and total(now["link-manager"], "delinkcious_outbox_backlog_events") == 0
        )
        return now if done else None

    after = await eventually(settled)

    # Every documented metric is on the page of each service that records it, with the
    # documented type, and has been recorded.
    for doc in documented_metrics().values():
        for service in doc.services:
            samples, types = await scrape(system.metrics_urls[service])
            family = doc.name.removesuffix("_total")
            assert types.get(family) == doc.type, (service, doc.name)
            if doc.type == "histogram":
                assert total(after[service], f"{doc.name}_count") > 0, (service, doc.name)
            elif doc.type == "counter":
                assert total(after[service], doc.name) > 0, (service, doc.name)
            else:
                assert any(name == doc.name for name, _ in samples), (service, doc.name)

    def delta(on: str, name: str, **labels: str) -> float:
        return total(after[on], name, **labels) - total(before[on], name, **labels)

    links = "link-manager"
    assert delta(links, "delinkcious_links_created_total") == 1
    assert delta(links, "delinkcious_links_updated_total") == 1
    assert delta(links, "delinkcious_links_deleted_total") == 1
    assert total(after[links], "delinkcious_outbox_oldest_event_age_seconds") == 0
    for event_type in ("link_added", "link_updated", "link_deleted"):
        subject = f"delinkcious.links.{event_type}"
        assert delta(links, "delinkcious_events_published_total", subject=subject, outcome="stored") == 1
    assert delta(links, "http_server_requests_total", service=links, route=LINKS_ROUTE, status="201") == 1
    # The save, the list, the update and the delete.
    assert delta(links, "http_server_request_duration_seconds_count", service=links, route=LINKS_ROUTE) == 4

    gateway = "api-gateway"
    assert delta(gateway, "http_client_requests_total", target=links, route=LINKS_ROUTE, status="201") == 1
    assert delta(gateway, "delinkcious_login_attempts_total", provider="dev", result="success") == 2
    assert delta(gateway, "delinkcious_login_attempts_total", provider="dev", result="invalid_argument") == 1
    assert delta(gateway, "grpc_client_requests_total", method=GET_NEWS, code="OK") >= 1
    assert delta(gateway, "http_server_requests_total", service=gateway, route="/logout", status="204") == 1

    users = "user-manager"
    assert delta(users, "delinkcious_token_validations_total", result="unknown") == 1
    assert delta(users, "delinkcious_token_validations_total", result="revoked") == 1
    assert delta(users, "delinkcious_token_validations_total", result="valid") >= 6

    news = "news-manager"
    assert delta(news, "grpc_server_requests_total", method=GET_NEWS, code="OK") >= 1
    assert delta(news, "delinkcious_events_consumed_total", durable="news-manager", outcome="acked") >= 3
    assert delta(news, "delinkcious_news_fanout_followers_count") >= 3
    assert delta(news, "delinkcious_news_fanout_followers_sum") >= 3  # one follower each time
    assert delta(news, "delinkcious_feed_writes_total") >= 3
    assert delta(news, "http_client_requests_total", target="social-graph-manager", status="200") >= 3

    checker = "link-checker"
    assert delta(checker, "delinkcious_link_checks_total", result="valid") >= 1
    assert delta(checker, "delinkcious_events_published_total", subject="delinkcious.checks.result") >= 1
