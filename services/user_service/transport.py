"""user-manager's internal HTTP API: thin routes that translate to UserService calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Response
from pydantic import Field

from delinkcious.app import create_service_app, from_app_state
from delinkcious.callers import callers
from delinkcious.db import make_sessionmaker
from delinkcious.migrations import database_check, migrate_database, migrated_engine
from delinkcious.models import (
    ApiTokenList,
    CreatedApiToken,
    Identity,
    IssuedToken,
    NewApiToken,
    Strict,
    TokenOwner,
    User,
    Username,
)
from delinkcious.observability import ReadinessCheck
from user_service.service import UserService
from user_service.settings import UserSettings
from user_service.sql_store import SqlUserStore

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_user_manager"
GATEWAY = "api-gateway"


class TokenBody(Strict):
    token: Annotated[str, Field(max_length=512)]


ServiceDep = Annotated[UserService, from_app_state("service")]

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


@router.post("/users/{username}/api-tokens", dependencies=[callers(GATEWAY)], status_code=201)
def create_api_token(username: Username, body: NewApiToken, service: ServiceDep) -> CreatedApiToken:
    return service.create_api_token(username, body)


@router.get("/users/{username}/api-tokens", dependencies=[callers(GATEWAY)])
def list_api_tokens(username: Username, service: ServiceDep) -> ApiTokenList:
    return service.list_api_tokens(username)


@router.delete("/users/{username}/api-tokens/{token_id}", dependencies=[callers(GATEWAY)], status_code=204)
def delete_api_token(username: Username, token_id: str, service: ServiceDep) -> Response:
    service.delete_api_token(username, token_id)
    return Response(status_code=204)


def migrate(settings: UserSettings) -> None:
    migrate_database(settings.database_url, MIGRATIONS, VERSION_TABLE)


def create_app(settings: UserSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with migrated_engine(settings.database_url, MIGRATIONS, VERSION_TABLE) as engine:
            store = SqlUserStore(make_sessionmaker(engine))
            app.state.engine = engine
            app.state.service = UserService(store, timedelta(seconds=settings.access_token_ttl_seconds))
            yield

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        return {"database": database_check(lambda: app.state.engine)}

    return create_service_app(
        title="Delinkcious user-manager",
        settings=settings,
        lifespan=lifespan,
        routers=[router],
        readiness=readiness,
    )
