from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


def eventually(probe: Callable[[], T], check: Callable[[T], bool], within: float, every: float = 0.02) -> T:
    """Polls probe() until check(result) holds; fails with the last result after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if check(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within} s; last: {result!r}"[:2000])
        time.sleep(every)


def all_pages(client: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        query = {**params, **({"start_token": token} if token else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body[key]
        token = body["next_page_token"]
        if not token:
            return items


def news(client: httpx.Client) -> list[dict[str, Any]]:
    return all_pages(client, "/v1/news", "events", page_size=100)


def cache_lookups(gateway: str, metric: str, outcome: str) -> float:
    """A gateway cache's lookup counter (`outcome`: hit, miss or bypass), from /metrics."""
    text = httpx.get(f"{gateway}/metrics", timeout=5).text
    found = re.search(rf'^{metric}\{{outcome="{outcome}"\}} (\S+)$', text, re.M)
    assert found, f"no {metric} {outcome} on the gateway's /metrics"
    return float(found.group(1))
