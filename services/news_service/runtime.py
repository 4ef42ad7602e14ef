"""The news-manager process: gRPC server, link-event consumer and operations HTTP app
in one event loop, started in order and stopped gracefully.

Stopping: health turns NOT_SERVING (and /readyz 503) so traffic goes elsewhere; the
consumer stops fetching and finishes the event in hand while the gRPC server refuses
new calls and lets calls in flight finish; then NATS is drained (acks flushed), Redis
and the social-graph client are closed, and the HTTP app stops last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn

from delinkcious.clients.social import SocialGraphClient
from delinkcious.events import EventBus
from delinkcious.pagination import PageTokenCodec
from news_service.consumer import run_link_events
from news_service.redis_store import RedisFeedStore
from news_service.service import NewsService
from news_service.settings import NewsSettings
from news_service.transport import GrpcServer, create_grpc_server, create_ops_app

log = logging.getLogger("news_service")


class _OpsServer(uvicorn.Server):
    """Signals belong to the process, not to this HTTP server: uvicorn would otherwise
    replace our handlers and re-raise the signal after its own shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=128)


class NewsManager:
    def __init__(self, settings: NewsSettings) -> None:
        self.settings = settings
        self._stopping = False
        self.store = RedisFeedStore.from_url(settings.redis_url, settings.feed_max_length)
        self.bus = EventBus(settings.nats_url, settings.service_name)
        token = settings.caller_token.get_secret_value() if settings.caller_token else ""
        self.social = SocialGraphClient(settings.social_graph_manager_url, token)
        codec = PageTokenCodec(settings.page_token_key.get_secret_value().encode())
        self.service = NewsService(self.store, self.social, codec)
        self._consumer_stop = asyncio.Event()
        self._consumer: asyncio.Task[None] | None = None
        self._grpc: GrpcServer | None = None
        self._ops: _OpsServer | None = None
        self._ops_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Raises if a port cannot be bound; Redis or NATS being down is not fatal
        (readiness says so, and the consumer waits for NATS)."""
        # Bound here rather than by uvicorn, which would exit the process on failure.
        http_socket = _listen(self.settings.host, self.settings.http_port)
        try:
            self._grpc = await create_grpc_server(self.service, self.settings)
        except BaseException:
            http_socket.close()
            raise
        await self.bus.connect(wait_seconds=2)
        await self._grpc.start()
        self._consumer = asyncio.create_task(
            run_link_events(self.service, self.bus, self._consumer_stop), name="link-events"
        )
        checks = {"redis": self.store.ping, "nats": self.bus.ping, "grpc": self._serving}
        config = uvicorn.Config(
            create_ops_app(self.settings, checks),
            host=self.settings.host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
            lifespan="on",
        )
        self._ops = _OpsServer(config)
        self._ops_task = asyncio.create_task(self._ops.serve(sockets=[http_socket]), name="ops-http")
        log.info(
            "news-manager started",
            extra={"grpc_port": self._grpc.port, "http_port": self.settings.http_port},
        )

    async def _serving(self) -> None:
        if self._stopping:
            raise ConnectionError("shutting down")

    async def wait_ops_failed(self) -> None:
        """Returns only if the HTTP app stopped on its own (it should not)."""
        if self._ops_task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._ops_task)

    async def stop(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        self._stopping = True
        self._consumer_stop.set()
        steps = []
        if self._grpc is not None:
            steps.append(self._grpc.stop(grace))
        if self._consumer is not None:
            steps.append(asyncio.wait_for(asyncio.shield(self._consumer), grace))
        for result in await asyncio.gather(*steps, return_exceptions=True):
            if isinstance(result, BaseException):
                log.warning("stop step failed", extra={"reason": repr(result)})
        if self._consumer is not None and not self._consumer.done():
            self._consumer.cancel()
        await self.bus.close()
        await self.store.aclose()
        await self.social.aclose()
        if self._ops is not None and self._ops_task is not None:
            self._ops.should_exit = True
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._ops_task, grace)
        log.info("news-manager stopped")
