"""news-manager's business rules: fanning link events out to followers' feeds, and
reading a user's news a page at a time. No gRPC, HTTP or NATS here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from delinkcious.errors import InvalidArgument
from delinkcious.metrics import FEED_WRITES
from delinkcious.models import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    FollowersPage,
    LinkEvent,
    NewsPage,
    require_username,
)
from delinkcious.pagination import PageTokenCodec
from delinkcious.tasks import cancel_and_wait
from news_service.store import MAX_SCORE, FeedItem, FeedStore, Position

# The most social-graph-manager hands out per call.
FOLLOWERS_PAGE_SIZE = 1000
# Far longer than any token this service issues; a bound keeps junk out of the decoder.
MAX_PAGE_TOKEN_LENGTH = 1024
_MAX_PROBE_LENGTH = 512

Progress = Callable[[], Awaitable[None]]


class FollowerDirectory(Protocol):
    """Who follows a user, a page at a time (social-graph-manager in production)."""

    async def followers_page(
        self, username: str, page_size: int, start_token: str, followed_before: datetime | None = None
    ) -> FollowersPage: ...


class NewsService:
    def __init__(
        self,
        store: FeedStore,
        directory: FollowerDirectory,
        page_tokens: PageTokenCodec,
        followers_page_size: int = FOLLOWERS_PAGE_SIZE,
    ) -> None:
        self._store = store
        self._directory = directory
        self._tokens = page_tokens
        self._followers_page_size = followers_page_size

    async def fan_out(self, event: LinkEvent, progress: Progress | None = None) -> int:
        """Adds the event to the feed of everyone who follows its author now, and returns
        how many that was. Idempotent, so a failure part way is retried as a whole.
        `progress` is awaited after each page of followers (to keep a message's lease).
        InvalidArgument for an event that can never be delivered."""
        require_username(event.username, "username")
        if event.private:
            # A private link is its owner's alone: its events reach nobody's news.
            return 0
        reached = 0
        page = await self._followers(event, "")
        while True:
            # The next page is asked for while this one is written: with a large following
            # the walk then takes about as long as the slower of the two, not their sum.
            following = None
            if page.next_page_token:
                following = asyncio.ensure_future(self._followers(event, page.next_page_token))
            try:
                if page.followers:
                    await self._store.add(event, page.followers)
                    FEED_WRITES.inc(len(page.followers))
                    reached += len(page.followers)
                if progress is not None:
                    await progress()
            except BaseException:
                if following is not None:
                    with contextlib.suppress(BaseException):
                        await cancel_and_wait(following)
                raise
            if following is None:
                return reached
            page = await following

    def _followers(self, event: LinkEvent, token: str) -> Awaitable[FollowersPage]:
        # Who followed the author when the event happened, not when it is delivered.
        return self._directory.followers_page(
            event.username, self._followers_page_size, token, followed_before=event.timestamp
        )

    async def get_news(self, username: str, page_size: int = 0, start_token: str = "") -> NewsPage:
        """One page of the user's news, newest first. A page size of 0 means the default.
        The page token holds the position of the last event returned, so events that
        arrive between pages never cause a repeat or a skip."""
        items, token = await self.news_items(username, page_size, start_token)
        return NewsPage(events=[item.event for item in items], next_page_token=token)

    async def news_items(
        self, username: str, page_size: int = 0, start_token: str = ""
    ) -> tuple[list[FeedItem], str]:
        """`get_news` as the feed's entries and the next page's token, for a caller that
        writes its own answer from them (the gRPC servicer)."""
        require_username(username, "username")
        if page_size == 0:
            page_size = DEFAULT_PAGE_SIZE
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        position = self._decode(username, start_token) if start_token else None
        items = await self._store.page(username, page_size + 1, position)
        page, more = items[:page_size], len(items) > page_size
        token = self._encode(username, page[-1].position) if more else ""
        return page, token

    @staticmethod
    def _query(username: str) -> dict[str, str]:
        # A token is only good for the news of the user it was issued to.
        return {"news": username}

    def _encode(self, username: str, position: Position) -> str:
        return self._tokens.encode([position.score, position.probe], self._query(username))

    def _decode(self, username: str, token: str) -> Position:
        if len(token) > MAX_PAGE_TOKEN_LENGTH:
            raise InvalidArgument("start_token is not a valid page token")
        raw = self._tokens.decode(token, self._query(username))
        # Signed by us, so well formed unless the key was reused elsewhere: check anyway.
        match raw:
            case [int(score), str(probe)] if (
                not isinstance(score, bool) and abs(score) < MAX_SCORE and len(probe) <= _MAX_PROBE_LENGTH
            ):
                return Position(score, probe)
        raise InvalidArgument("start_token is not a valid page token")
