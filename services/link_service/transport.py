"""link-manager's internal HTTP API: thin routes that translate to LinkService calls.

Routes act for the user named in the path; only authenticated callers (the gateway,
which has verified the user's token, and the link checker) may call them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from delinkcious.app import create_service_app, from_app_state
from delinkcious.bookmarks import MAX_IMPORT_REQUEST_BYTES
from delinkcious.callers import callers
from delinkcious.db import make_sessionmaker
from delinkcious.events import EventBus
from delinkcious.migrations import database_check, migrate_database, migrated_engine
from delinkcious.models import (
    DatedNewLink,
    LastChange,
    Link,
    LinkCheckResult,
    LinkListQuery,
    LinkPage,
    LinkUpdate,
    Tag,
    TagCount,
    TagList,
    TagRename,
    Url,
    Username,
)
from delinkcious.observability import ReadinessCheck
from delinkcious.pagination import PageTokenCodec
from link_service.bulk_routes import IMPORT_PATH, bulk_router
from link_service.encoding import link_json, link_page_json
from link_service.service import LinkService
from link_service.settings import LinkSettings
from link_service.sql_store import SqlLinkStore
from link_service.workers import OutboxRelay, run_check_results, run_rechecks

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_link_manager"
GATEWAY = "api-gateway"


class CheckApplied(BaseModel):
    applied: bool


ServiceDep = Annotated[LinkService, from_app_state("service")]

router = APIRouter()


@router.get("/users/{username}/links", dependencies=[callers(GATEWAY)], response_model=LinkPage)
async def list_links(
    username: Username, query: Annotated[LinkListQuery, Query()], service: ServiceDep
) -> Response:
    # The read and the encoding in one worker thread: a regex filter may run for a
    # while, and the database may make it wait, neither of which the event loop may.
    # The page is encoded once, there, rather than validated again and serialised by
    # FastAPI on the loop.
    def page() -> bytes:
        found = service.list_links(username, query.filters(), query.page_size, query.start_token)
        return link_page_json(found)

    return Response(await run_in_threadpool(page), media_type="application/json")


@router.get("/users/{username}/links/one", dependencies=[callers(GATEWAY)])
def get_link(username: Username, url: Annotated[Url, Query()], service: ServiceDep) -> Link:
    return service.get_link(username, url)


# A save's answer is the stored Link, written by orjson (link_service/encoding.py)
# rather than validated again against the response model and serialised by FastAPI.
@router.post("/users/{username}/links", dependencies=[callers(GATEWAY)], status_code=201, response_model=Link)
def add_link(username: Username, body: DatedNewLink, service: ServiceDep) -> Response:
    return _link_response(service.add_link(username, body), 201)


@router.put("/users/{username}/links", dependencies=[callers(GATEWAY)], response_model=Link)
def update_link(username: Username, body: LinkUpdate, service: ServiceDep) -> Response:
    return _link_response(service.update_link(username, body), 200)


def _link_response(link: Link, status: int) -> Response:
    return Response(link_json(link), status_code=status, media_type="application/json")


@router.delete("/users/{username}/links", dependencies=[callers(GATEWAY)], status_code=204)
def delete_link(username: Username, url: Annotated[Url, Query()], service: ServiceDep) -> Response:
    service.delete_link(username, url)
    return Response(status_code=204)


@router.get("/users/{username}/links/changed", dependencies=[callers(GATEWAY)])
def last_change(username: Username, service: ServiceDep) -> LastChange:
    """When the user's links were last added, changed or deleted; null if never."""
    return service.last_change(username)


@router.get("/users/{username}/tags", dependencies=[callers(GATEWAY)])
def list_tags(username: Username, service: ServiceDep) -> TagList:
    return service.list_tags(username)


# `:path`, so a tag with a slash in it (sent as %2F) still reaches the route.
@router.put("/users/{username}/tags/{name:path}", dependencies=[callers(GATEWAY)])
def rename_tag(username: Username, name: Tag, body: TagRename, service: ServiceDep) -> TagCount:
    return service.rename_tag(username, name, body.name)


@router.delete("/users/{username}/tags/{name:path}", dependencies=[callers(GATEWAY)], status_code=204)
def delete_tag(username: Username, name: Tag, service: ServiceDep) -> Response:
    service.delete_tag(username, name)
    return Response(status_code=204)


@router.post("/link-checks", dependencies=[callers("link-checker")])
def apply_check(body: LinkCheckResult, service: ServiceDep) -> CheckApplied:
    return CheckApplied(applied=service.apply_check(body))


def migrate(settings: LinkSettings) -> None:
    migrate_database(settings.database_url, MIGRATIONS, VERSION_TABLE)


@asynccontextmanager
async def _serving(app: FastAPI, settings: LinkSettings, engine: Engine) -> AsyncIterator[None]:
    """The service on a migrated database: its store, the bus and the background work."""
    store = SqlLinkStore(make_sessionmaker(engine))
    codec = PageTokenCodec(settings.page_token_key.get_secret_value().encode())
    bus = EventBus(settings.nats_url, settings.service_name)
    await bus.connect(wait_seconds=2)
    relay = OutboxRelay(store, bus)
    app.state.engine, app.state.store, app.state.bus, app.state.relay = engine, store, bus, relay
    app.state.service = LinkService(store, codec, settings.max_links_per_user, on_change=relay.notify)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(relay.run(stop, settings.outbox_retention), name="outbox-relay"),
        asyncio.create_task(run_check_results(store, bus, stop), name="check-results"),
        asyncio.create_task(
            run_rechecks(store, bus, stop, settings.recheck_interval, settings.recheck_scan_interval),
            name="rechecks",
        ),
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
        for task in tasks:
            task.cancel()
        await bus.close()


def create_app(settings: LinkSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = migrated_engine(settings.database_url, MIGRATIONS, VERSION_TABLE)
        async with database as engine, _serving(app, settings, engine):
            yield

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        return {"database": database_check(lambda: app.state.engine), "nats": app.state.bus.ping}

    return create_service_app(
        title="Delinkcious link-manager",
        settings=settings,
        lifespan=lifespan,
        routers=[router, bulk_router],
        readiness=readiness,
        larger_bodies={IMPORT_PATH: MAX_IMPORT_REQUEST_BYTES},
    )
