"""Fixtures shared by every test: real databases and caller tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import fresh_postgres_database, postgres_server, sqlite_database

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
