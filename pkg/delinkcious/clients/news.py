"""Client of news-manager's gRPC API."""

from __future__ import annotations

import json

import grpc

from delinkcious.errors import InvalidArgument
from delinkcious.grpcutil import ClientTelemetry, caller_metadata, error_from_rpc
from delinkcious.models import MAX_PAGE_SIZE, NewsPage
from delinkcious.news.convert import page_from_proto, page_json_from_proto
from delinkcious.news.v1 import news_pb2, news_pb2_grpc

DEFAULT_TIMEOUT = 5.0

# GetNews is a read: a call that never reached a server is safely tried again.
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{"service": "delinkcious.news.v1.NewsService"}],
                "retryPolicy": {
                    "maxAttempts": 2,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


GET_NEWS = "/delinkcious.news.v1.NewsService/GetNews"


class NewsClient:
    service = "news-manager"

    def __init__(self, target: str, caller_token: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """`target` is host:port (news-manager:6060 in the cluster)."""
        self._channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.service_config", _SERVICE_CONFIG),
                ("grpc.enable_retries", 1),
                ("grpc.keepalive_time_ms", 30_000),
            ],
        )
        # Telemetry is done around the call rather than by a channel interceptor: grpc's
        # intercepted-call machinery cost more CPU per call than the call itself.
        self._telemetry = ClientTelemetry(self.service, GET_NEWS)
        self._get_news = news_pb2_grpc.NewsServiceStub(self._channel).GetNews
        self._metadata = caller_metadata(caller_token)
        self._timeout = timeout

    async def _call(self, username: str, page_size: int, start_token: str) -> news_pb2.GetNewsResponse:
        try:
            request = news_pb2.GetNewsRequest(username=username, page_size=page_size, start_token=start_token)
        except (ValueError, TypeError):  # a page size beyond int32, say
            raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}") from None
        try:
            response: news_pb2.GetNewsResponse = await self._telemetry.call(
                self._get_news, request, self._timeout, self._metadata
            )
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, self.service) from None
        return response

    async def get_news(self, username: str, page_size: int = 0, start_token: str = "") -> NewsPage:
        """page_size 0 asks for the server's default (20)."""
        return page_from_proto(await self._call(username, page_size, start_token))

    async def get_news_json(self, username: str, page_size: int = 0, start_token: str = "") -> bytes:
        """The page as the API's JSON body (what `get_news`'s NewsPage serialises to),
        for a caller that only passes it on: no models are built or validated."""
        return page_json_from_proto(await self._call(username, page_size, start_token))

    async def aclose(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> NewsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
