"""Building blocks for the news-manager tests: settings, events, a fake follower
directory, and unique names (the session's Redis is shared by every test)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from delinkcious.errors import Unavailable
from delinkcious.models import EventType, FollowersPage, LinkEvent
from delinkcious.pagination import PageTokenCodec
from news_service.settings import NewsSettings
from tests.conftest import CALLER_SECRETS

PAGE_TOKEN_KEY = "news-manager-test-page-token-key"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def codec() -> PageTokenCodec:
    return PageTokenCodec(PAGE_TOKEN_KEY.encode())


def unique(prefix: str = "u") -> str:
    """A valid username no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def tokens(*callers: str) -> dict[str, str]:
    return {name: CALLER_SECRETS[name] for name in callers}


def news_settings(**overrides: Any) -> NewsSettings:
    values: dict[str, Any] = {
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "CALLER_TOKENS": tokens("api-gateway"),
        "CALLER_TOKEN": CALLER_SECRETS["news-manager"],
        "PAGE_TOKEN_KEY": PAGE_TOKEN_KEY,
    }
    values.update(overrides)
    return NewsSettings(**values)


def link_event(
    author: str,
    n: int,
    *,
    at: datetime | None = None,
    event_type: EventType = EventType.LINK_ADDED,
) -> LinkEvent:
    """Event number `n` of `author`, `n` seconds after BASE_TIME unless `at` is given;
    its url and title say which it is."""
    return LinkEvent(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        link_id=n,
        username=author,
        url=f"https://example.com/{author}/{n}",
        title=f"link {n}",
        timestamp=at if at is not None else BASE_TIME + timedelta(seconds=n),
    )


class FakeFollowers:
    """Followers of each author, handed out in pages the way social-graph-manager does;
    remembers every call, and can fail the first `failures` of them."""

    def __init__(self, followers: Mapping[str, Sequence[str]] | None = None, failures: int = 0) -> None:
        self.followers = {k: list(v) for k, v in (followers or {}).items()}
        self.calls: list[tuple[str, int, str]] = []
        self.failures = failures

    async def followers_page(
        self, username: str, page_size: int, start_token: str, followed_before: datetime | None = None
    ) -> FollowersPage:
        self.calls.append((username, page_size, start_token))
        if self.failures > 0:
            self.failures -= 1
            raise Unavailable("social-graph-manager is unreachable")
        names = sorted(self.followers.get(username, []))
        start = int(start_token) if start_token else 0
        page = names[start : start + page_size]
        more = start + page_size < len(names)
        return FollowersPage(followers=page, next_page_token=str(start + page_size) if more else "")


async def wait_until(predicate: Callable[[], Any], within: float = 15.0) -> None:
    """Polls a condition (sync or async) until it holds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
