"""news-manager's transports: the gRPC servicer (thin: it only translates to
NewsService calls), the gRPC server around it, and the small HTTP app that serves
/healthz, /readyz and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
from fastapi import FastAPI
from grpc_health.v1 import health

from delinkcious.app import create_service_app
from delinkcious.grpcutil import (
    CallerAuthInterceptor,
    ErrorInterceptor,
    add_health,
    create_server,
    set_serving,
    stop_gracefully,
)
from delinkcious.news.convert import EVENT_TYPE_TO_PROTO
from delinkcious.news.v1 import news_pb2, news_pb2_grpc
from delinkcious.observability import ReadinessCheck
from news_service.service import NewsService
from news_service.settings import NewsSettings
from news_service.store import FeedItem

SERVICE_NAME: str = news_pb2.DESCRIPTOR.services_by_name["NewsService"].full_name
GET_NEWS = f"/{SERVICE_NAME}/GetNews"
GATEWAY = "api-gateway"
# Who may call each method; a method missing here admits nobody.
METHOD_CALLERS = {GET_NEWS: (GATEWAY,)}


_MICROS = 1_000_000


def _event_message(item: FeedItem) -> news_pb2.Event:
    # Straight from the entry's fields, the score being the time in microseconds:
    # building a NewsEvent only to take it apart again was a third of a read's work.
    seconds, micros = divmod(item.score, _MICROS)  # floored: nanos never negative
    return news_pb2.Event(
        event_type=EVENT_TYPE_TO_PROTO[item.event_type],
        username=item.username,
        url=item.url,
        title=item.title,
        timestamp={"seconds": seconds, "nanos": micros * 1000},
    )


class NewsServicer(news_pb2_grpc.NewsServiceServicer):
    def __init__(self, service: NewsService) -> None:
        self._service = service

    async def GetNews(
        self, request: news_pb2.GetNewsRequest, context: grpc.aio.ServicerContext
    ) -> news_pb2.GetNewsResponse:
        items, token = await self._service.news_items(
            request.username, request.page_size, request.start_token
        )
        return news_pb2.GetNewsResponse(events=[_event_message(i) for i in items], next_page_token=token)


@dataclass
class GrpcServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int

    async def start(self) -> None:
        await self.server.start()
        await set_serving(self.health, SERVICE_NAME)

    async def stop(self, grace_seconds: float) -> None:
        await stop_gracefully(self.server, self.health, grace_seconds)


async def create_grpc_server(service: NewsService, settings: NewsSettings) -> GrpcServer:
    """Bound to HOST:PORT (PORT 0 in settings means 6060) but not started; health stays
    NOT_SERVING until `start`."""
    # The error interceptor is outermost, so refused calls are counted and logged too.
    server = create_server(
        [
            ErrorInterceptor(settings.service_name),
            CallerAuthInterceptor(settings.caller_tokens, METHOD_CALLERS),
        ]
    )
    news_pb2_grpc.add_NewsServiceServicer_to_server(NewsServicer(service), server)
    health_servicer = await add_health(server, SERVICE_NAME)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    if port == 0:  # older grpcio reports a failed bind this way rather than raising
        raise RuntimeError(f"cannot listen on {settings.host}:{settings.port}")
    return GrpcServer(server, health_servicer, port)


def create_ops_app(settings: NewsSettings, checks: Mapping[str, ReadinessCheck]) -> FastAPI:
    """Only the operations endpoints; the connections it checks belong to the process
    (see runtime.py), which opens them before and closes them after this app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    return create_service_app(
        title="Delinkcious news-manager",
        settings=settings,
        lifespan=lifespan,
        routers=[],
        readiness=lambda _: dict(checks),
    )
