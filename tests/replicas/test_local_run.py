"""`make run` gives the gateway the local Redis, so the local run takes the same shared
state code path as replicas in a cluster."""

from __future__ import annotations

from pathlib import Path

from tests.localrun.helpers import planned, table_secrets


def test_the_local_gateway_uses_the_local_redis(tmp_path: Path) -> None:
    specs = planned(tmp_path, table_secrets(tmp_path))
    gateway, news = specs["api-gateway"], specs["news-manager"]
    assert gateway.env["REDIS_URL"] == specs["redis"].url == news.env["REDIS_URL"]


def test_a_redis_of_the_callers_reaches_the_gateway_too(tmp_path: Path) -> None:
    specs = planned(tmp_path, table_secrets(tmp_path), REDIS_URL="redis://127.0.0.1:1/0")
    assert "redis" not in specs
    assert specs["api-gateway"].env["REDIS_URL"] == "redis://127.0.0.1:1/0"
