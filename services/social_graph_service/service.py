"""social-graph-manager's business rules: follows, and listings of them. No HTTP here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from delinkcious.errors import InvalidArgument, NotFound
from delinkcious.models import FollowersPage, require_username
from delinkcious.pagination import PageTokenCodec
from delinkcious.timeutil import utcnow
from social_graph_service.directory import UserDirectory
from social_graph_service.store import SocialGraphStore

MIN_FOLLOWERS_PAGE = 1
MAX_FOLLOWERS_PAGE = 1000
DEFAULT_FOLLOWERS_PAGE = 500


class SocialGraphService:
    """Store calls run in worker threads: the SQL store blocks, the event loop must not."""

    def __init__(
        self,
        store: SocialGraphStore,
        directory: UserDirectory,
        page_tokens: PageTokenCodec,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._directory = directory
        self._tokens = page_tokens
        self._clock = clock

    async def follow(self, follower: str, followed: str) -> None:
        """Idempotent. The follower is the caller's authenticated user; only the followed
        user can be someone who does not exist."""
        require_username(follower, "follower")
        require_username(followed, "followed")
        if follower == followed:
            raise InvalidArgument("cannot follow yourself")
        if not await self._directory.exists(followed):
            raise NotFound(f"user {followed} does not exist")
        await asyncio.to_thread(self._store.follow, follower, followed, self._clock())

    async def unfollow(self, follower: str, followed: str) -> None:
        """Idempotent: unfollowing someone not followed (or not existing) is a no-op."""
        require_username(follower, "follower")
        require_username(followed, "followed")
        await asyncio.to_thread(self._store.unfollow, follower, followed)

    async def following(self, username: str) -> list[str]:
        return await asyncio.to_thread(self._store.following, require_username(username, "username"))

    async def followers(self, username: str) -> list[str]:
        return await asyncio.to_thread(self._store.followers, require_username(username, "username"))

    async def followers_page(
        self,
        username: str,
        page_size: int = DEFAULT_FOLLOWERS_PAGE,
        start_token: str = "",
        followed_before: datetime | None = None,
    ) -> FollowersPage:
        """One page of followers in name order. The token holds the last name returned,
        so follows and unfollows between pages never repeat or skip anyone else.
        `followed_before` keeps only those who followed by then (the news of an event
        goes to who followed the author when it happened, not when it is delivered)."""
        require_username(username, "username")
        if not MIN_FOLLOWERS_PAGE <= page_size <= MAX_FOLLOWERS_PAGE:
            raise InvalidArgument(f"page_size must be between {MIN_FOLLOWERS_PAGE} and {MAX_FOLLOWERS_PAGE}")
        # The token is bound to this listing: one for another user's followers is refused.
        query = {
            "list": "followers",
            "of": username,
            **({"before": followed_before.isoformat()} if followed_before else {}),
        }
        after = None
        if start_token:
            after = self._tokens.decode(start_token, query)
            if not isinstance(after, str):
                raise InvalidArgument("start_token is not a valid page token")
        # One row more than asked says whether another page exists, without a count.
        names = await asyncio.to_thread(
            self._store.followers_after, username, after, page_size + 1, followed_before
        )
        page, more = names[:page_size], len(names) > page_size
        token = self._tokens.encode(page[-1], query) if more else ""
        return FollowersPage(followers=page, next_page_token=token)
