"""The gateway's news cache with every process running. The system under test keeps news
pages for NEWS_CACHE_SECONDS=60 (conftest), far longer than any test here waits: a read
answered again from the gateway, and each delivery showing in the next read, can only come
from the version news-manager moves as it adds to the feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import cache_lookups, eventually, news

LOOKUPS = "delinkcious_gateway_news_cache_lookups_total"


def lookups(system: RunningSystem, outcome: str) -> float:
    return cache_lookups(system.gateway, LOOKUPS, outcome)


def has(count: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda page: len(page) == count


def test_a_news_page_is_answered_again_until_the_next_delivery(system: RunningSystem) -> None:
    author, reader = unique("newsauthor"), unique("newsreader")
    author_token, reader_token = system.login(author), system.login(reader)
    with system.client(author_token) as a, system.client(reader_token) as r:
        assert r.post("/v1/following", json={"followed": author}).status_code == 204
        assert news(r) == []

        hits = lookups(system, "hit")
        assert news(r) == []
        assert news(r) == []
        assert lookups(system, "hit") >= hits + 2

        for n in range(3):
            url = f"https://example.com/{author}/{n}"
            assert a.post("/v1/links", json={"url": url}).status_code == 201
            shown = eventually(lambda: news(r), has(n + 1), 20)
            assert shown[0]["url"] == url

        kept = news(r)
        hits = lookups(system, "hit")
        assert news(r) == kept
        assert lookups(system, "hit") >= hits + 1
