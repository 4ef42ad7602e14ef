"""link-manager fixtures: the service over each store, with a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from delinkcious.db import create_db_engine, make_sessionmaker
from delinkcious.migrations import upgrade_to_head
from delinkcious.pagination import PageTokenCodec
from link_service.service import LinkService
from link_service.sql_store import SqlLinkStore
from link_service.store import InMemoryLinkStore
from link_service.transport import MIGRATIONS

PAGE_KEY = b"test-page-token-key-0123456789"


class Clock:
    """Advances a microsecond per reading, so every change has its own timestamp."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def migrated_engine(url: str) -> Engine:
    engine = create_db_engine(url)
    upgrade_to_head(engine, MIGRATIONS, "alembic_version_link_manager")
    return engine


@pytest.fixture
def memory_store() -> InMemoryLinkStore:
    return InMemoryLinkStore()


@pytest.fixture
def sql_engine(database_url: str) -> Iterator[Engine]:
    engine = migrated_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sql_store(sql_engine: Engine) -> SqlLinkStore:
    return SqlLinkStore(make_sessionmaker(sql_engine))


def make_service(store: object, max_links: int = 10_000) -> LinkService:
    return LinkService(store, PageTokenCodec(PAGE_KEY), max_links, clock=Clock())  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "postgres", "sqlite"])
def any_store(request: pytest.FixtureRequest) -> Iterator[object]:
    """The service contract holds on every store: in memory, Postgres and SQLite."""
    if request.param == "memory":
        yield InMemoryLinkStore()
        return
    engine = migrated_engine(request.getfixturevalue(f"{request.param}_url"))
    yield SqlLinkStore(make_sessionmaker(engine))
    engine.dispose()
