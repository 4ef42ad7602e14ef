"""The whole system in this test process, so one in-memory span exporter sees every
service's spans: user-manager, social-graph-manager, link-manager, link-checker and
the gateway as uvicorn servers on the test's event loop, news-manager as its own
runtime (gRPC, consumer and operations app), over a real NATS, a real Redis and
SQLite databases. The gateway has the development login and GitHub login (against
the local GitHub stand-in)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from api_gateway.settings import GatewaySettings
from api_gateway.transport import create_app as create_gateway
from link_checker.settings import CheckerSettings
from link_checker.transport import create_app as create_checker
from link_service.settings import LinkSettings
from link_service.transport import create_app as create_links
from news_service.runtime import NewsManager
from news_service.settings import NewsSettings
from social_graph_service.settings import SocialGraphSettings
from social_graph_service.transport import create_app as create_social
from tests.conftest import CALLER_SECRETS, caller_tokens_env
from tests.databases import sqlite_database
from tests.gateway_login.github_standin import GitHubStandIn
from tests.servers import free_port
from user_service.settings import UserSettings
from user_service.transport import create_app as create_users

PAGE_TOKEN_KEY = "observability-test-page-token-key"
SESSION_SECRET = "observability-test-session-secret-0123456789"
GITHUB_CLIENT_ID = "Iv1.observability00001"


class _Server(uvicorn.Server):
    """Signals stay with pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class _Running:
    server: _Server
    task: asyncio.Task[None]


def _listen() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0), backlog=128)


async def _serve(app: FastAPI, sock: socket.socket) -> _Running:
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", proxy_headers=False)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises the reason it did not start
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.01)
    return _Running(server, task)


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


class _Pages(BaseHTTPRequestHandler):
    """What the link checker checks: a page with a title."""

    def do_GET(self) -> None:
        body = b"<html><head><title>A checked page</title></head><body>hi</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class System:
    gateway: str
    links: str
    users: str
    social: str
    checker: str
    news_http: str
    pages: str
    github: GitHubStandIn

    @property
    def metrics_urls(self) -> dict[str, str]:
        return {
            "api-gateway": self.gateway,
            "link-manager": self.links,
            "user-manager": self.users,
            "social-graph-manager": self.social,
            "link-checker": self.checker,
            "news-manager": self.news_http,
        }

    def client(self, token: str | None = None, **headers: str) -> httpx.AsyncClient:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(base_url=self.gateway, headers=headers, timeout=15)

    async def login(self, username: str) -> str:
        async with self.client() as c:
            response = await c.post("/login/dev", json={"username": username})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


@contextlib.asynccontextmanager
async def running_system(tmp: Path, nats_url: str, redis_url: str) -> AsyncIterator[System]:
    pages = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=pages.serve_forever, args=(0.05,), daemon=True).start()
    pages_url = f"http://127.0.0.1:{pages.server_address[1]}"
    sockets = {name: _listen() for name in ("users", "social", "links", "checker", "gateway")}
    urls = {name: _url(sock) for name, sock in sockets.items()}
    github = GitHubStandIn(
        GITHUB_CLIENT_ID, secrets.token_hex(20), redirect_uri=f"{urls['gateway']}/login/github/callback"
    )
    github.start()
    common: dict[str, Any] = {"NATS_URL": nats_url, "PAGE_TOKEN_KEY": PAGE_TOKEN_KEY}
    apps = {
        "users": create_users(
            UserSettings(
                USER_MANAGER_DATABASE_URL=sqlite_database(tmp),
                CALLER_TOKENS=caller_tokens_env("api-gateway", "social-graph-manager"),
            )
        ),
        "social": create_social(
            SocialGraphSettings(
                SOCIAL_GRAPH_MANAGER_DATABASE_URL=sqlite_database(tmp),
                USER_MANAGER_URL=urls["users"],
                CALLER_TOKENS=caller_tokens_env("api-gateway", "news-manager"),
                CALLER_TOKEN=CALLER_SECRETS["social-graph-manager"],
                **common,
            )
        ),
        "links": create_links(
            LinkSettings(
                LINK_MANAGER_DATABASE_URL=sqlite_database(tmp),
                CALLER_TOKENS=caller_tokens_env("api-gateway", "link-checker"),
                CALLER_TOKEN=CALLER_SECRETS["link-manager"],
                **common,
            )
        ),
        "checker": create_checker(
            CheckerSettings(
                CALLER_TOKENS=caller_tokens_env("link-manager"),
                CALLER_TOKEN=CALLER_SECRETS["link-checker"],
                LINK_CHECKER_ALLOW_PRIVATE_NETWORKS="true",
                CHECK_CONCURRENCY=2,
                **common,
            )
        ),
    }
    news_settings = NewsSettings(
        HOST="127.0.0.1",
        PORT=free_port(),
        HTTP_PORT=free_port(),
        REDIS_URL=redis_url,
        SOCIAL_GRAPH_MANAGER_URL=urls["social"],
        CALLER_TOKENS=caller_tokens_env("api-gateway"),
        CALLER_TOKEN=CALLER_SECRETS["news-manager"],
        **common,
    )
    apps["gateway"] = create_gateway(
        GatewaySettings(
            CALLER_TOKEN=CALLER_SECRETS["api-gateway"],
            LINK_MANAGER_URL=urls["links"],
            USER_MANAGER_URL=urls["users"],
            SOCIAL_GRAPH_MANAGER_URL=urls["social"],
            NEWS_MANAGER_TARGET=f"127.0.0.1:{news_settings.port}",
            PUBLIC_URL=urls["gateway"],
            DEV_LOGIN="true",
            SESSION_SECRET=SESSION_SECRET,
            GITHUB_CLIENT_ID=GITHUB_CLIENT_ID,
            GITHUB_CLIENT_SECRET=github.client_secret,
            GITHUB_URL=github.url,
            GITHUB_API_URL=github.url,
            RATE_LIMIT_PER_SECOND=1000,
            RATE_LIMIT_BURST=1000,
            REDIS_URL=redis_url,  # the replicas' shared state, as in a cluster
            TOKEN_CACHE_SECONDS=0,  # every request validates: the counts are exact
        )
    )
    running: list[_Running] = []
    news = NewsManager(news_settings)
    try:
        for name in ("users", "social", "links", "checker"):
            running.append(await _serve(apps[name], sockets[name]))
        await news.start()
        running.append(await _serve(apps["gateway"], sockets["gateway"]))
        yield System(
            gateway=urls["gateway"],
            links=urls["links"],
            users=urls["users"],
            social=urls["social"],
            checker=urls["checker"],
            news_http=f"http://127.0.0.1:{news_settings.http_port}",
            pages=pages_url,
            github=github,
        )
    finally:
        for server in reversed(running):
            server.server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.task, 15)
        await news.stop()
        github.close()
        pages.shutdown()
        pages.server_close()
        for sock in sockets.values():
            sock.close()
