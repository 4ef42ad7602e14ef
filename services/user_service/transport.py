"""user-manager's internal HTTP API: thin routes that translate to UserService calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import Field

from delinkcious.app import create_service_app
from delinkcious.callers import callers
from delinkcious.db import create_db_engine, make_sessionmaker, ping
from delinkcious.migrations import upgrade_to_head
from delinkcious.models import Identity, IssuedToken, Strict, TokenOwner, User, Username
from delinkcious.observability import ReadinessCheck
from user_service.service import UserService
from user_service.settings import UserSettings
from user_service.sql_store import SqlUserStore

MIGRATIONS = Path(__file__).parent / "migrations"
GATEWAY = "api-gateway"


class TokenBody(Strict):
    token: Annotated[str, Field(max_length=512)]


def get_service(request: Request) -> UserService:
    service: UserService = request.app.state.service
    return service


ServiceDep = Annotated[UserService, Depends(get_service)]

router = APIRouter()


@router.post("/identities/login", dependencies=[callers(GATEWAY)])
def login(identity: Identity, service: ServiceDep) -> User:
    return service.login(identity)


@router.get("/users/{username}", dependencies=[callers(GATEWAY, "social-graph-manager")])
def get_user(username: Username, service: ServiceDep) -> User:
    return service.get_user(username)


@router.post("/users/{username}/tokens", dependencies=[callers(GATEWAY)], status_code=201)
def issue_token(username: Username, service: ServiceDep) -> IssuedToken:
    return service.issue_token(username)


@router.post("/tokens/validate", dependencies=[callers(GATEWAY)])
def validate_token(body: TokenBody, service: ServiceDep) -> TokenOwner:
    return service.validate_token(body.token)


@router.post("/tokens/revoke", dependencies=[callers(GATEWAY)], status_code=204)
def revoke_token(body: TokenBody, service: ServiceDep) -> Response:
    service.revoke_token(body.token)
    return Response(status_code=204)


def migrate(settings: UserSettings) -> None:
    engine = create_db_engine(settings.database_url)
    try:
        upgrade_to_head(engine, MIGRATIONS, "alembic_version_user_manager")
    finally:
        engine.dispose()


def create_app(settings: UserSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings.database_url)
        await asyncio.to_thread(upgrade_to_head, engine, MIGRATIONS, "alembic_version_user_manager")
        store = SqlUserStore(make_sessionmaker(engine))
        app.state.engine = engine
        app.state.service = UserService(store, timedelta(seconds=settings.access_token_ttl_seconds))
        try:
            yield
        finally:
            engine.dispose()

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        async def database() -> None:
            await asyncio.to_thread(ping, app.state.engine)

        return {"database": database}

    return create_service_app(
        title="Delinkcious user-manager",
        settings=settings,
        lifespan=lifespan,
        routers=[router],
        readiness=readiness,
    )
