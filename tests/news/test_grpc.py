"""news-manager's gRPC API on a real grpc.aio server (free port, real Redis), called
through NewsClient the way the gateway calls it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from delinkcious.clients.news import NewsClient
from delinkcious.errors import InvalidArgument, PermissionDenied, Unauthenticated, Unavailable
from delinkcious.grpcutil import caller_metadata
from delinkcious.models import EventType, NewsEvent, NewsPage
from delinkcious.news.v1 import news_pb2, news_pb2_grpc
from news_service.redis_store import RedisFeedStore
from news_service.service import NewsService
from news_service.store import FeedItem, Position
from news_service.transport import GET_NEWS, SERVICE_NAME, GrpcServer, create_grpc_server
from tests.conftest import CALLER_SECRETS
from tests.news.support import (
    BASE_TIME,
    FakeFollowers,
    codec,
    link_event,
    news_settings,
    tokens,
    unique,
    wait_until,
)
from tests.servers import free_port

GATEWAY_TOKEN = CALLER_SECRETS["api-gateway"]


@dataclass
class Running:
    target: str
    store: RedisFeedStore
    grpc: GrpcServer

    def client(self, token: str = GATEWAY_TOKEN) -> NewsClient:
        return NewsClient(self.target, token, timeout=5)


async def start_server(
    redis_url: str, service: NewsService | None = None
) -> tuple[GrpcServer, RedisFeedStore]:
    settings = news_settings(
        HOST="127.0.0.1",
        PORT=free_port(),
        REDIS_URL=redis_url,
        # link-checker is a known caller, but not one news-manager serves.
        CALLER_TOKENS=tokens("api-gateway", "link-checker"),
    )
    store = RedisFeedStore.from_url(redis_url, settings.feed_max_length)
    server = await create_grpc_server(service or NewsService(store, FakeFollowers(), codec()), settings)
    await server.start()
    return server, store


@pytest.fixture
async def running(redis_url: str) -> AsyncIterator[Running]:
    server, store = await start_server(redis_url)
    yield Running(f"127.0.0.1:{server.port}", store, server)
    await server.stop(1)
    await store.aclose()


async def fill(store: RedisFeedStore, reader: str, count: int) -> None:
    # Threes share a microsecond, so pages end inside ties.
    events = [link_event("author", n, at=BASE_TIME + timedelta(seconds=n // 3)) for n in range(count)]
    random.Random(1).shuffle(events)
    for event in events:
        await store.add(event, [reader])


async def test_paging_a_250_event_feed_returns_each_event_once_newest_first(running: Running) -> None:
    reader = unique("r")
    await fill(running.store, reader, 250)
    seen: list[NewsEvent] = []
    token, pages = "", 0
    async with running.client() as client:
        while True:
            page = await client.get_news(reader, 40, token)
            pages += 1
            seen.extend(page.events)
            if not page.next_page_token:
                break
            token = page.next_page_token
    assert pages == 7
    assert sorted(e.title for e in seen) == sorted(f"link {n}" for n in range(250))
    stamps = [e.timestamp for e in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert seen[0] == NewsEvent(
        event_type=EventType.LINK_ADDED,
        username="author",
        url=seen[0].url,
        title=seen[0].title,
        timestamp=BASE_TIME + timedelta(seconds=83),
    )


async def test_the_json_page_is_what_the_news_page_serialises_to(running: Running) -> None:
    reader = unique("r")
    await fill(running.store, reader, 30)
    # Titles beyond ASCII and a timestamp on a whole second, as the serialiser writes them.
    odd = link_event("author", 99, at=BASE_TIME + timedelta(days=400))
    await running.store.add(odd.model_copy(update={"title": 'Zürich "quoted" \\ ✓'}), [reader])
    async with running.client() as client:
        for token in ("", (await client.get_news(reader, 7)).next_page_token):
            page = await client.get_news(reader, 7, token)
            body = await client.get_news_json(reader, 7, token)
            assert body == page.model_dump_json().encode()
            assert NewsPage.model_validate_json(body) == page


async def test_page_size_zero_is_the_default_of_twenty(running: Running) -> None:
    reader = unique("r")
    await fill(running.store, reader, 30)
    async with running.client() as client:
        page = await client.get_news(reader)
    assert len(page.events) == 20
    assert page.next_page_token


async def test_a_bad_token_is_invalid_argument(running: Running) -> None:
    reader = unique("r")
    await fill(running.store, reader, 5)
    async with running.client() as client:
        with pytest.raises(InvalidArgument, match="start_token"):
            await client.get_news(reader, 10, "not-a-token")
        token = (await client.get_news(reader, 2)).next_page_token
        with pytest.raises(InvalidArgument, match="start_token"):
            await client.get_news(unique("r"), 2, token)


@pytest.mark.parametrize("page_size", [-1, 101, 2**31 - 1])
async def test_page_size_out_of_range_is_invalid_argument(running: Running, page_size: int) -> None:
    async with running.client() as client:
        with pytest.raises(InvalidArgument, match="page_size"):
            await client.get_news(unique("r"), page_size)


async def test_a_page_size_beyond_int32_is_refused_by_the_client(running: Running) -> None:
    async with running.client() as client:
        with pytest.raises(InvalidArgument, match="page_size"):
            await client.get_news(unique("r"), 2**40)


async def test_an_invalid_username_is_invalid_argument(running: Running) -> None:
    async with running.client() as client:
        with pytest.raises(InvalidArgument, match="username"):
            await client.get_news("../etc", 10)


@pytest.mark.parametrize("token", ["", "not-any-callers-secret"])
async def test_a_missing_or_unknown_caller_token_is_unauthenticated(running: Running, token: str) -> None:
    async with running.client(token) as client:
        with pytest.raises(Unauthenticated):
            await client.get_news(unique("r"), 10)


def refused() -> float:
    labels = {"service": "news-manager", "method": GET_NEWS, "code": "UNAUTHENTICATED"}
    return REGISTRY.get_sample_value("grpc_server_requests_total", labels) or 0.0


async def test_no_metadata_at_all_is_unauthenticated_and_counted(running: Running) -> None:
    before = refused()
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = news_pb2_grpc.NewsServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetNews(news_pb2.GetNewsRequest(username="reader"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # Counted as the call ends on the server, which can be just after the client has
    # its answer.
    await wait_until(lambda: refused() == before + 1, within=5)
    assert refused() == before + 1


async def test_a_known_caller_that_is_not_allowed_is_permission_denied(running: Running) -> None:
    async with running.client(CALLER_SECRETS["link-checker"]) as client:
        with pytest.raises(PermissionDenied):
            await client.get_news(unique("r"), 10)


async def test_health_is_serving_without_a_caller_token(running: Running) -> None:
    async with grpc.aio.insecure_channel(running.target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE_NAME):
            response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_stopping_turns_health_not_serving(redis_url: str) -> None:
    server, store = await start_server(redis_url)
    try:
        await server.stop(0.5)
        for service in ("", SERVICE_NAME):
            response = await server.health.Check(health_pb2.HealthCheckRequest(service=service), None)
            assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await store.aclose()


class BrokenStore:
    async def add(self, *_: object) -> None:
        raise RuntimeError("secret detail of the failure")

    async def page(self, username: str, limit: int, position: Position | None) -> list[FeedItem]:
        raise RuntimeError("secret detail of the failure")


async def test_an_unexpected_failure_is_internal_and_tells_nothing(redis_url: str) -> None:
    server, store = await start_server(redis_url, NewsService(BrokenStore(), FakeFollowers(), codec()))
    target = f"127.0.0.1:{server.port}"
    try:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = news_pb2_grpc.NewsServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetNews(
                    news_pb2.GetNewsRequest(username="reader"),
                    timeout=5,
                    metadata=caller_metadata(GATEWAY_TOKEN),
                )
        assert caught.value.code() == grpc.StatusCode.INTERNAL
        assert caught.value.details() == "internal error"
        async with NewsClient(target, GATEWAY_TOKEN) as client:
            with pytest.raises(Unavailable) as failed:
                await client.get_news("reader")
        assert "secret" not in failed.value.message
    finally:
        await server.stop(0.5)
        await store.aclose()


async def test_redis_away_is_unavailable(redis_url: str) -> None:
    dead = RedisFeedStore.from_url("redis://127.0.0.1:1/0", 1000)
    server, store = await start_server(redis_url, NewsService(dead, FakeFollowers(), codec()))
    try:
        async with NewsClient(f"127.0.0.1:{server.port}", GATEWAY_TOKEN) as client:
            with pytest.raises(Unavailable):
                await client.get_news("reader")
    finally:
        await server.stop(0.5)
        await store.aclose()
        await dead.aclose()


async def test_no_server_is_unavailable() -> None:
    async with NewsClient(f"127.0.0.1:{free_port()}", GATEWAY_TOKEN, timeout=2) as client:
        with pytest.raises(Unavailable):
            await client.get_news("reader")


class HangingStore:
    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def add(self, *_: object) -> None:
        await self.release.wait()

    async def page(self, username: str, limit: int, position: Position | None) -> list[FeedItem]:
        await self.release.wait()
        return []


async def test_a_call_past_its_deadline_is_unavailable(redis_url: str) -> None:
    hanging = HangingStore()
    server, store = await start_server(redis_url, NewsService(hanging, FakeFollowers(), codec()))
    try:
        async with NewsClient(f"127.0.0.1:{server.port}", GATEWAY_TOKEN, timeout=0.3) as client:
            with pytest.raises(Unavailable, match="timed out"):
                await client.get_news("reader")
    finally:
        hanging.release.set()
        await server.stop(0.5)
        await store.aclose()
