"""Fixtures shared by every test: real databases and caller tokens."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import fresh_postgres_database, postgres_server, sqlite_database
from tests.servers import NatsServer, RedisServer

# Caller secrets for tests only; every real deployment generates its own.
CALLER_SECRETS = {
    "api-gateway": "test-gateway-caller-secret",
    "social-graph-manager": "test-social-caller-secret",
    "news-manager": "test-news-caller-secret",
    "link-checker": "test-checker-caller-secret",
    "link-manager": "test-link-caller-secret",
}


def caller_tokens_env(*callers: str) -> str:
    return json.dumps({name: CALLER_SECRETS[name] for name in callers})


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    with fresh_postgres_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_database(tmp_path)


@pytest.fixture(params=["postgres", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on Postgres and once on SQLite: the stores must agree."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def own_nats() -> Iterator[NatsServer]:
    """A NATS server this test alone controls (to stop and restart it)."""
    server = NatsServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    url = os.environ.get("DELINKCIOUS_TEST_NATS_URL")
    if url:
        yield url
        return
    server = NatsServer()
    server.start()
    yield server.url
    server.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("DELINKCIOUS_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = RedisServer()
    server.start()
    yield server.url
    server.close()
