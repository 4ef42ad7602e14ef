"""create_service_app: a lost dependency is a 503 in api.md's error shape, counted and
logged as a 503, and /readyz names it until it is back; a bug in SQL is still a 500.
The failures come from a real SQLite file held locked and a closed Redis port."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from delinkcious.app import create_service_app
from delinkcious.db import create_db_engine
from delinkcious.migrations import database_check
from delinkcious.observability import ReadinessCheck
from delinkcious.settings import ServiceSettings
from tests.servers import free_port


class OutageProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "outage-probe"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "probe.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return path


@pytest.fixture
def client(database: Path) -> Iterator[TestClient]:
    engine = create_db_engine(f"sqlite:///{database}?timeout=0.3")
    router = APIRouter()

    @router.get("/rows")
    def rows() -> dict[str, int]:
        with engine.begin() as conn:
            return {"rows": len(conn.exec_driver_sql("SELECT * FROM t").all())}

    @router.get("/typo")
    def typo() -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("SELEC * FROM t")

    @router.get("/feed")
    async def feed() -> None:
        redis = Redis(port=free_port(), socket_connect_timeout=1)
        try:
            await redis.ping()
        finally:
            await redis.aclose()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    def readiness(_: FastAPI) -> dict[str, ReadinessCheck]:
        return {"database": database_check(lambda: engine)}

    app = create_service_app(
        title="outage probe",
        settings=OutageProbeSettings(),
        lifespan=lifespan,
        routers=[router],
        readiness=readiness,
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def requests_counted(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "http_server_requests_total",
        {"service": "outage-probe", "method": "GET", "route": route, "status": status},
    )
    return value or 0.0


def test_a_locked_database_is_a_503_named_in_readiness_until_it_is_released(
    client: TestClient, database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/rows").json() == {"rows": 0}
    assert client.get("/readyz").status_code == 200
    before = requests_counted("/rows", "503")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.INFO):
            answer = client.get("/rows")
        assert answer.status_code == 503, answer.text
        assert answer.json() == {
            "error": {"code": "unavailable", "message": "the database is unavailable; try again shortly"}
        }
        # Counted and logged with the status the caller got, not as a crash.
        assert requests_counted("/rows", "503") == before + 1
        assert not [r for r in caplog.records if r.getMessage() == "unhandled error"]
        assert [r for r in caplog.records if r.getMessage() == "dependency unavailable"]
        assert [getattr(r, "status", None) for r in caplog.records if r.getMessage() == "request"] == [503]

        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert list(ready.json()["failed"]) == ["database"]
        assert "database is locked" in ready.json()["failed"]["database"]
        assert ready.json()["error"]["code"] == "unavailable"
    finally:
        holder.rollback()
        holder.close()
    assert client.get("/readyz").status_code == 200
    assert client.get("/rows").status_code == 200


def test_a_sql_mistake_is_still_a_500(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        answer = client.get("/typo")
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal", "message": "internal error"}}
    [crash] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert crash.exc_info is not None  # the traceback is in the log
    assert requests_counted("/typo", "500") >= 1


def test_redis_away_is_a_503(client: TestClient) -> None:
    answer = client.get("/feed")
    assert answer.status_code == 503
    assert answer.json() == {
        "error": {"code": "unavailable", "message": "redis is unavailable; try again shortly"}
    }
