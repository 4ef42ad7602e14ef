"""social-graph-manager's storage interface and its in-memory implementation (for unit tests)."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime
from typing import Protocol


class SocialGraphStore(Protocol):
    """Usernames sort by their bytes (a-z, 0-9 and '-' only), on every implementation."""

    def follow(self, follower: str, followed: str, now: datetime) -> None:
        """Records the follow; a follow that already exists is left as it was."""

    def unfollow(self, follower: str, followed: str) -> None:
        """Removes the follow if there is one."""

    def following(self, username: str) -> list[str]:
        """Whom `username` follows, sorted."""

    def followers(self, username: str) -> list[str]:
        """Who follows `username`, sorted."""

    def followers_after(
        self, username: str, after: str | None, limit: int, followed_before: datetime | None = None
    ) -> list[str]:
        """At most `limit` followers of `username` sorting after `after` (from the first
        when None), sorted: one page of a key-based walk. With `followed_before`, only
        those who already followed at that moment."""


class InMemorySocialGraphStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._following: defaultdict[str, set[str]] = defaultdict(set)
        self._followers: defaultdict[str, set[str]] = defaultdict(set)
        self._since: dict[tuple[str, str], datetime] = {}

    def follow(self, follower: str, followed: str, now: datetime) -> None:
        with self._lock:
            self._following[follower].add(followed)
            self._followers[followed].add(follower)
            self._since.setdefault((follower, followed), now)

    def unfollow(self, follower: str, followed: str) -> None:
        with self._lock:
            self._following[follower].discard(followed)
            self._followers[followed].discard(follower)
            self._since.pop((follower, followed), None)

    def following(self, username: str) -> list[str]:
        with self._lock:
            return sorted(self._following.get(username, ()))

    def followers(self, username: str) -> list[str]:
        with self._lock:
            return sorted(self._followers.get(username, ()))

    def followers_after(
        self, username: str, after: str | None, limit: int, followed_before: datetime | None = None
    ) -> list[str]:
        with self._lock:
            names = sorted(self._followers.get(username, ()))
            if followed_before is not None:
                names = [n for n in names if self._since[(n, username)] <= followed_before]
        if after is not None:
            names = [name for name in names if name > after]
        return names[:limit]
