"""A short-lived cache of link list pages (`GET /v1/links`) in each gateway replica.

A list is the gateway's most frequent read, and most of its cost is the call to
link-manager behind it, not the gateway. A page the gateway answered is kept for
LIST_CACHE_SECONDS under the *version* of its owner's links, and served again only
while that version holds:

- Every change to a user's links goes through the gateway (the API, the web pages and
  the Pinboard API all use VersionedLinkClient), which moves the version once
  link-manager answered, or failed to (a write that timed out may still have happened).
  With Redis the version is a counter there, shared by the replicas and read in the
  rate limiter's round trip (so it costs no call): a page kept by one replica is not
  served after a save through another. This replica's own part of the version moves
  too, so its pages never outlive its own writes even while Redis is away.
- The link checker's verdicts reach link-manager without the gateway. A page with a
  `pending` link is never kept, so a link's first verdict (and the title it fills in)
  shows at once; a re-check that turns a valid link invalid shows within
  LIST_CACHE_SECONDS.
- While Redis is away no version can be read: pages are then neither served from the
  cache nor kept. A change this replica could not count in Redis reaches the other
  replicas' pages when those expire.

The same cache keeps news pages (`GET /v1/news`) under the version of the reader's feed,
which news-manager moves as it adds to the feed (delinkcious.news.versions): a delivered
event shows in the next read through any replica. A feed changes only through
news-manager, so a news page has no part of its version of this replica's own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from redis.exceptions import NoPermissionError, RedisError

from api_gateway.shared_state import KEY_PREFIX, SharedState
from delinkcious.clients.base import Answer
from delinkcious.clients.link import LinkClient
from delinkcious.metrics import GATEWAY_LIST_CACHE_LOOKUPS, GATEWAY_SHARED_STATE_OPERATIONS

log = logging.getLogger("api_gateway.list_cache")

# A pending link's verdict comes from the checker, not through the gateway: a page
# showing one is not kept. link-manager writes compact JSON (orjson), and inside a
# string value the quotes would be escaped, so this finds exactly a pending status.
_PENDING = b'"status":"pending"'
# The shared counter outlives any page by far (LIST_CACHE_SECONDS is at most 60), so
# one that expired and starts again from 0 cannot meet a page kept under its old value.
VERSION_KEY_SECONDS = 86_400
# Users whose own change counts this replica keeps before it starts afresh (with its
# pages, which were kept under those counts).
MAX_COUNTED_USERS = 100_000


def version_key(user: str) -> str:
    return f"{KEY_PREFIX}links-version:{user}"


@dataclass(frozen=True, slots=True)
class Listing:
    """The signed-in user of a list (or news) page, and the version of their links (or
    feed) the page may be served from the cache for; None: fetch it, and do not keep it."""

    username: str
    version: str | None


@dataclass(slots=True)
class _Page:
    version: str
    expires: float
    body: bytes


class ListCache:
    """Pages by (user, query), least recently used evicted first past `max_bytes`.
    `lookups` counts hits, misses and bypasses; a page containing `never_keep` is not
    kept (a link list's pending link; None keeps every page)."""

    def __init__(
        self,
        seconds: float,
        max_bytes: int,
        shared: SharedState | None,
        clock: Callable[[], float] = time.monotonic,
        *,
        lookups: Counter = GATEWAY_LIST_CACHE_LOOKUPS,
        never_keep: bytes | None = _PENDING,
    ) -> None:
        self.seconds = seconds
        self._hit = lookups.labels("hit")
        self._miss = lookups.labels("miss")
        self._bypass = lookups.labels("bypass")
        self._never_keep = never_keep
        self._clock = clock
        self.max_bytes = max_bytes
        self._shared = shared
        self._pages: OrderedDict[tuple[str, Hashable], _Page] = OrderedDict()
        self._bytes = 0
        self._changes: dict[str, int] = {}  # user -> changes made through this replica
        self._told_refused = False

    @property
    def enabled(self) -> bool:
        return self.seconds > 0 and self.max_bytes > 0

    @property
    def shared(self) -> bool:
        """Versions come from Redis (shared by the replicas), not from this replica alone."""
        return self._shared is not None

    def version(self, user: str, shared_version: str) -> str:
        return f"{shared_version}.{self._changes.get(user, 0)}"

    async def page(self, listing: Listing, query: Hashable, fetch: Callable[[], Awaitable[bytes]]) -> bytes:
        if listing.version is None or not self.enabled:
            self._bypass.inc()
            return await fetch()
        key = (listing.username, query)
        kept = self._pages.get(key)
        if kept is not None:
            if kept.version == listing.version and kept.expires > self._clock():
                self._pages.move_to_end(key)
                self._hit.inc()
                return kept.body
            self._remove(key)
        self._miss.inc()
        body = await fetch()
        never_keep = self._never_keep
        if (never_keep is None or never_keep not in body) and len(body) <= self.max_bytes // 8:
            self._keep(key, _Page(listing.version, self._clock() + self.seconds, body))
        return body

    async def changed(self, user: str) -> None:
        """The user's links changed (or may have): no page kept before is served again."""
        if len(self._changes) >= MAX_COUNTED_USERS and user not in self._changes:
            self._changes.clear()
            self._pages.clear()
            self._bytes = 0
        self._changes[user] = self._changes.get(user, 0) + 1
        shared = self._shared
        if shared is None or not self.enabled or not shared.available("list_cache"):
            return
        try:
            async with shared.redis.pipeline(transaction=False) as pipe:
                pipe.incr(version_key(user))
                pipe.expire(version_key(user), VERSION_KEY_SECONDS)
                await pipe.execute()
        except NoPermissionError as error:
            # Redis answers, so this is no outage for the rate limiter and the rest: the
            # gateway's Redis user lacks INCRBY or EXPIRE (an ACL from before the cache).
            self._refused(error)
        except (RedisError, OSError) as error:
            shared.failed("list_cache", error)
        else:
            shared.succeeded("list_cache")

    def _refused(self, error: NoPermissionError) -> None:
        GATEWAY_SHARED_STATE_OPERATIONS.labels("list_cache", "failed").inc()
        if not self._told_refused:
            self._told_refused = True
            log.error(
                "Redis refuses the list cache's INCRBY or EXPIRE: give the gateway's Redis user "
                "the chart's redisAcl; until then the other replicas see a change once their "
                "pages expire (LIST_CACHE_SECONDS)",
                extra={"reason": str(error)},
            )

    def _keep(self, key: tuple[str, Hashable], page: _Page) -> None:
        self._remove(key)
        self._pages[key] = page
        self._bytes += len(page.body)
        while self._bytes > self.max_bytes:
            _, oldest = self._pages.popitem(last=False)
            self._bytes -= len(oldest.body)

    def _remove(self, key: tuple[str, Hashable]) -> None:
        page = self._pages.pop(key, None)
        if page is not None:
            self._bytes -= len(page.body)


def _owner(path: str) -> str | None:
    """The user of a link-manager path, `/users/<username>/...`."""
    if not path.startswith("/users/"):
        return None
    return path.split("/", 3)[2] or None


class VersionedLinkClient(LinkClient):
    """link-manager's client that tells the list cache of every change it forwards."""

    def __init__(self, *args: Any, cache: ListCache, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache = cache

    async def request(self, method: str, path: str, **kwargs: Any) -> Answer:
        if method in ("GET", "HEAD"):
            return await super().request(method, path, **kwargs)
        try:
            return await super().request(method, path, **kwargs)
        finally:
            owner = _owner(path)
            if owner is not None:
                # Shielded: a request cancelled again while this runs (a client that went
                # away, then shutdown) must still tell the other replicas.
                await asyncio.shield(self._cache.changed(owner))
