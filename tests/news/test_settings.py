"""NewsSettings: defaults, and the settings it refuses to start without."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from news_service.settings import NewsSettings
from tests.news.support import news_settings


def test_defaults() -> None:
    settings = news_settings()
    assert settings.port == 6060
    assert settings.http_port == 6061
    assert settings.nats_url == "nats://nats:4222"
    assert settings.social_graph_manager_url == "http://social-graph-manager:9090"
    assert settings.feed_max_length == 1000


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"CALLER_TOKEN": None}, "CALLER_TOKEN is required"),
        ({"CALLER_TOKEN": "short"}, "CALLER_TOKEN is shorter"),
        ({"PAGE_TOKEN_KEY": "short"}, "at least 16"),
        ({"FEED_MAX_LENGTH": 999}, "greater than or equal to 1000"),
        ({"PORT": 7000, "HTTP_PORT": 7000}, "must differ"),
        ({"CALLER_TOKENS": {}}, "no token for api-gateway"),
        ({"REDIS_URL": ""}, "at least 1 character"),
    ],
)
def test_refuses_bad_settings(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        news_settings(**overrides)


def test_redis_url_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ValidationError, match="REDIS_URL"):
        NewsSettings(CALLER_TOKENS={"api-gateway": "x" * 16}, CALLER_TOKEN="y" * 16, PAGE_TOKEN_KEY="z" * 16)
