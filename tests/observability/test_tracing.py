"""One trace per request, across every service it reaches: HTTP and gRPC hops carry
the W3C trace context in headers and metadata, and the event bus carries it in
message headers, from the outbox row written during the request."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from tests.observability.conftest import Telemetry
from tests.observability.helpers import (
    chain,
    eventually,
    find,
    from_library,
    in_trace,
    service_of,
    unique,
)
from tests.observability.system import System

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _follow(system: System, reader_token: str, author: str) -> None:
    async with system.client(reader_token) as c:
        response = await c.post("/v1/following", json={"followed": author})
    assert response.status_code == 204, response.text


async def test_adding_a_link_is_one_trace_through_gateway_link_manager_bus_news_and_checker(
    system: System, telemetry: Telemetry
) -> None:
    author, reader = unique("author"), unique("reader")
    author_token, reader_token = await system.login(author), await system.login(reader)
    await _follow(system, reader_token, author)
    telemetry.spans.clear()

    async with system.client(author_token) as c:
        response = await c.post("/v1/links", json={"url": f"{system.pages}/{author}", "title": "traced"})
    assert response.status_code == 201, response.text

    [root] = [
        s
        for s in find(telemetry.finished(), SpanKind.SERVER, "api-gateway", "POST /v1/links")
        if s.parent is None
    ]
    trace_id = root.context.trace_id

    def consumed(service: str, subject: str) -> list:
        spans = in_trace(telemetry.finished(), trace_id).values()
        return find(spans, SpanKind.CONSUMER, service, f"process {subject}")

    [news] = await eventually(lambda: consumed("news-manager", "delinkcious.links.link_added"))
    [checker] = await eventually(lambda: consumed("link-checker", "delinkcious.links.link_added"))
    # The checker's verdict travels back over the bus, still in the same trace.
    [verdict] = await eventually(lambda: consumed("link-manager", "delinkcious.checks.result"))

    spans = in_trace(telemetry.finished(), trace_id)
    services = {service_of(s) for s in spans.values()}
    assert {"api-gateway", "link-manager", "news-manager", "link-checker", "social-graph-manager"} <= services

    # news-manager's consumer span descends, across the bus, from the gateway's request.
    path = [(s.kind, service_of(s), s.name) for s in chain(news, spans)]
    assert path == [
        (SpanKind.CONSUMER, "news-manager", "process delinkcious.links.link_added"),
        (SpanKind.PRODUCER, None, "publish delinkcious.links.link_added"),
        (SpanKind.SERVER, "link-manager", "POST /users/{username}/links"),
        (SpanKind.CLIENT, None, "POST /users/{username}/links"),
        (SpanKind.SERVER, "api-gateway", "POST /v1/links"),
    ]
    assert chain(news, spans)[-1] is root
    # The checker hangs off the same producer span; its verdict off the checker.
    assert checker.parent is not None and checker.parent.span_id == chain(news, spans)[1].context.span_id
    assert chain(verdict, spans)[-1] is root
    assert checker in chain(verdict, spans)

    # Storage calls are spans of the work that made them.
    link_server = chain(news, spans)[2]
    sql = [
        s
        for s in spans.values()
        if "db.query.text" in (s.attributes or {}) and link_server in chain(s, spans)
    ]
    assert {s.name for s in sql} >= {"SELECT", "INSERT", "UPDATE"}, "link-manager's SQL is in the trace"
    assert all((s.attributes or {})["db.system.name"] == "sqlite" for s in sql)
    redis = [s for s in spans.values() if from_library(s, "redis") and news in chain(s, spans)]
    assert redis, "the feed writes to Redis are in the trace"
    followers = find(spans.values(), SpanKind.SERVER, "social-graph-manager")
    assert followers and all(news in chain(s, spans) for s in followers)


async def test_reading_the_news_is_one_trace_over_grpc(system: System, telemetry: Telemetry) -> None:
    reader = unique("reader")
    token = await system.login(reader)
    telemetry.spans.clear()

    async with system.client(token) as c:
        response = await c.get("/v1/news")
    assert response.status_code == 200, response.text

    [root] = find(telemetry.finished(), SpanKind.SERVER, "api-gateway", "GET /v1/news")
    spans = in_trace(telemetry.finished(), root.context.trace_id)
    [server] = find(spans.values(), SpanKind.SERVER, "news-manager")
    assert server.name == "delinkcious.news.v1.NewsService/GetNews"
    path = [(s.kind, s.name) for s in chain(server, spans)]
    assert path == [
        (SpanKind.SERVER, "delinkcious.news.v1.NewsService/GetNews"),
        (SpanKind.CLIENT, "delinkcious.news.v1.NewsService/GetNews"),
        (SpanKind.SERVER, "GET /v1/news"),
    ]
    assert (server.attributes or {}).get("rpc.grpc.status_code") == 0
    assert any(from_library(s, "redis") and server in chain(s, spans) for s in spans.values())


async def test_a_caller_s_trace_is_continued_and_its_request_id_returned(
    system: System, telemetry: Telemetry
) -> None:
    token = await system.login(unique("caller"))
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    headers = {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01", "X-Request-ID": "edge-req.42"}
    telemetry.spans.clear()

    async with system.client(token, **headers) as c:
        response = await c.get("/v1/me")
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "edge-req.42"

    [root] = find(telemetry.finished(), SpanKind.SERVER, "api-gateway", "GET /v1/me")
    assert format(root.context.trace_id, "032x") == trace_id
    assert root.parent is not None and format(root.parent.span_id, "016x") == "b7ad6b7169203331"
    user_manager = find(
        in_trace(telemetry.finished(), root.context.trace_id).values(), SpanKind.SERVER, "user-manager"
    )
    assert {s.name for s in user_manager} == {"POST /tokens/validate", "GET /users/{username}"}


async def test_each_hop_is_one_server_span_ours(system: System, telemetry: Telemetry) -> None:
    """FastAPI's own instrumentation stays off: it would add a second server span (and
    its own metrics) to every request, beside the one our middleware makes."""
    token = await system.login(unique("single"))
    telemetry.spans.clear()

    async with system.client(token) as c:
        response = await c.get("/v1/me")
    assert response.status_code == 200, response.text

    [root] = find(telemetry.finished(), SpanKind.SERVER, "api-gateway", "GET /v1/me")
    servers = find(in_trace(telemetry.finished(), root.context.trace_id).values(), SpanKind.SERVER)
    assert sorted(s.name for s in servers) == ["GET /users/{username}", "GET /v1/me", "POST /tokens/validate"]
    assert all(service_of(s) for s in servers), [s.instrumentation_scope for s in servers]


@pytest.mark.parametrize("presented", ["", "has space", "x" * 129, "-leading-dash", "semi;colon"])
async def test_a_malformed_request_id_is_replaced(system: System, presented: str) -> None:
    async with system.client() as c:
        response = await c.get("/healthz", headers={"X-Request-ID": presented} if presented else {})
    returned = response.headers["x-request-id"]
    assert returned and returned != presented
    assert len(returned) == 36  # a UUID
