"""social-graph-manager's internal HTTP API: thin routes that translate to
SocialGraphService calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import APIRouter, FastAPI, Query, Response
from pydantic import AwareDatetime

from delinkcious.app import create_service_app, from_app_state
from delinkcious.callers import callers
from delinkcious.clients.user import UserClient
from delinkcious.db import make_sessionmaker
from delinkcious.migrations import database_check, migrate_database, migrated_engine
from delinkcious.models import Followers, FollowersPage, Following, Strict, Username
from delinkcious.observability import ReadinessCheck
from delinkcious.pagination import PageTokenCodec
from social_graph_service.directory import UserManagerDirectory
from social_graph_service.service import (
    DEFAULT_FOLLOWERS_PAGE,
    MAX_FOLLOWERS_PAGE,
    MIN_FOLLOWERS_PAGE,
    SocialGraphService,
)
from social_graph_service.settings import SocialGraphSettings
from social_graph_service.sql_store import SqlSocialGraphStore

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_social_graph_manager"
GATEWAY = "api-gateway"
NEWS = "news-manager"
# Far longer than any token this service issues; a bound keeps junk out of the decoder.
MAX_PAGE_TOKEN_LENGTH = 1024


class FollowBody(Strict):
    followed: Username


ServiceDep = Annotated[SocialGraphService, from_app_state("service")]

router = APIRouter()


@router.post("/users/{username}/following", dependencies=[callers(GATEWAY)], status_code=204)
async def follow(username: Username, body: FollowBody, service: ServiceDep) -> Response:
    await service.follow(username, body.followed)
    return Response(status_code=204)


@router.delete("/users/{username}/following/{followed}", dependencies=[callers(GATEWAY)], status_code=204)
async def unfollow(username: Username, followed: Username, service: ServiceDep) -> Response:
    await service.unfollow(username, followed)
    return Response(status_code=204)


@router.get("/users/{username}/following", dependencies=[callers(GATEWAY)])
async def following(username: Username, service: ServiceDep) -> Following:
    return Following(following=await service.following(username))


@router.get("/users/{username}/followers", dependencies=[callers(GATEWAY, NEWS)])
async def followers(username: Username, service: ServiceDep) -> Followers:
    return Followers(followers=await service.followers(username))


@router.get("/users/{username}/followers/page", dependencies=[callers(NEWS, GATEWAY)])
async def followers_page(
    username: Username,
    service: ServiceDep,
    page_size: Annotated[int, Query(ge=MIN_FOLLOWERS_PAGE, le=MAX_FOLLOWERS_PAGE)] = DEFAULT_FOLLOWERS_PAGE,
    start_token: Annotated[str, Query(max_length=MAX_PAGE_TOKEN_LENGTH)] = "",
    followed_before: Annotated[AwareDatetime | None, Query()] = None,
) -> FollowersPage:
    return await service.followers_page(username, page_size, start_token, followed_before)


def migrate(settings: SocialGraphSettings) -> None:
    migrate_database(settings.database_url, MIGRATIONS, VERSION_TABLE)


def create_app(
    settings: SocialGraphSettings, *, user_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`user_transport` replaces the network under the user-manager client (tests hand
    it an in-process user-manager)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with migrated_engine(settings.database_url, MIGRATIONS, VERSION_TABLE) as engine:
            caller_token = settings.caller_token.get_secret_value() if settings.caller_token else ""
            users = UserClient(settings.user_manager_url, caller_token, transport=user_transport)
            try:
                store = SqlSocialGraphStore(make_sessionmaker(engine))
                codec = PageTokenCodec(settings.page_token_key.get_secret_value().encode())
                app.state.engine = engine
                app.state.user_client = users
                app.state.service = SocialGraphService(store, UserManagerDirectory(users), codec)
                yield
            finally:
                await users.aclose()

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        database = database_check(lambda: app.state.engine)

        # user-manager is deliberately not checked. Readiness says whether this pod can
        # serve; if it followed user-manager's, a user-manager outage would take every
        # social-graph pod out of the load balancer, and with it the listings that never
        # touch user-manager. Follows fail with 503 on their own while it is down.
        return {"database": database}

    return create_service_app(
        title="Delinkcious social-graph-manager",
        settings=settings,
        lifespan=lifespan,
        routers=[router],
        readiness=readiness,
    )
