"""The gateway app: public routes, login routes by configuration, and the clients of
every service behind it, opened and closed by the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from api_gateway import feeds, login, pinboard, replicas, web
from api_gateway.list_cache import VersionedLinkClient
from api_gateway.routes import account, bookmarks, links, news, social, tags, tokens
from api_gateway.settings import GatewaySettings
from api_gateway.token_refresh import TokenRefresher
from delinkcious.app import create_service_app
from delinkcious.bookmarks import MAX_IMPORT_FILE_BYTES
from delinkcious.clients.news import NewsClient
from delinkcious.clients.social import SocialGraphClient
from delinkcious.clients.user import UserClient
from delinkcious.observability import ReadinessCheck

DESCRIPTION = """
The public API of Delinkcious, a social bookmarking service: save links with titles,
descriptions and tags, follow people, and read the news of what they save.

Every `/v1` route needs `Authorization: Bearer <token>` (or `Access-Token: <token>`);
get a token from a login route. Errors always have the body
`{"error": {"code": "...", "message": "..."}}`.

Pinboard (API v1) clients work against `/pinboard/v1/` (tag "pinboard"), with
`auth_token=<username>:<token>` and Pinboard's own answers; feed readers against the
Atom feeds under `/feeds/` with `?token=`.
"""


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        token = settings.caller_token.get_secret_value() if settings.caller_token else ""
        timeout = httpx.Timeout(settings.backend_timeout_seconds, connect=2.0)
        app.state.links = VersionedLinkClient(
            settings.link_manager_url, token, timeout=timeout, cache=app.state.list_cache
        )
        app.state.users = UserClient(settings.user_manager_url, token, timeout=timeout)
        app.state.token_refresher = TokenRefresher(app.state.token_cache, app.state.users)
        app.state.social = SocialGraphClient(settings.social_graph_manager_url, token, timeout=timeout)
        app.state.news = NewsClient(
            settings.news_manager_target, token, timeout=settings.backend_timeout_seconds
        )
        app.state.login = (
            login.LoginContext(settings, used_states=replicas.used_states(app))
            if login.enabled(settings)
            else None
        )
        try:
            async with replicas.shared(app):
                yield
        finally:
            await app.state.token_refresher.aclose()
            for client in (app.state.links, app.state.users, app.state.social, app.state.news):
                await client.aclose()
            if app.state.login is not None:
                await app.state.login.aclose()

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        # The gateway holds no state: it can serve whenever it runs. A service behind it
        # being down is a 503 on the routes that need it, not a reason to stop routing
        # traffic to every gateway replica.
        return {}

    routers = [links.router, tags.router, social.router, news.router, account.router, bookmarks.router]
    routers += [tokens.router, pinboard.router, feeds.router]
    if settings.dev_login:
        routers.append(account.dev_router)
    routers += login.routers(settings)
    app = create_service_app(
        title="Delinkcious API",
        description=DESCRIPTION,
        settings=settings,
        lifespan=lifespan,
        routers=routers,
        readiness=readiness,
        public=True,
        larger_bodies={
            bookmarks.IMPORT_PATH: MAX_IMPORT_FILE_BYTES,
            web.IMPORT_PATH: web.MAX_IMPORT_FORM_BYTES,  # the same file, as a page's upload
        },
    )
    web.install(app)  # the pages at `/`, after the API routes so those keep their paths
    replicas.install(app, settings)
    return app
