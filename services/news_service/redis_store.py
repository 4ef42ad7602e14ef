"""The feeds in Redis: one sorted set per user, `news:feed:<username>`, and the version
of each, `news:version:<username>` (delinkcious.news.versions), which the gateway's news
cache reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from delinkcious.errors import Unavailable
from delinkcious.models import LinkEvent
from delinkcious.news.versions import NEWS_VERSION_KEY_SECONDS, news_version_key
from news_service.store import FeedItem, Position, decode, encode

FEED_KEY_PREFIX = "news:feed:"
# Followers written per script call: large enough to amortise the round trip, small
# enough not to hold Redis up for other clients (about a millisecond of its time).
WRITE_CHUNK = 500

# One event into many feeds in one command. A pipeline of ZADD + ZREMRANGEBYRANK per
# follower cost news-manager far more CPU packing commands and parsing two replies per
# follower than Redis spent on them; this is one command and one reply per chunk. A feed
# is trimmed only when it has grown past its length, which leaves it as the pipeline did.
# KEYS: the feeds, then as many versions (delinkcious.news.versions), the i-th feed's
# version at n + i. A feed's version moves in the same step as the feed, and only when
# the event was not in it already (a redelivery changes nothing a reader could see).
_ADD_SCRIPT = """
local member, score, keep, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local n = #KEYS / 2
for i = 1, n do
  local key = KEYS[i]
  if redis.call('ZADD', key, score, member) == 1 then
    if redis.call('ZCARD', key) > keep then
      redis.call('ZREMRANGEBYRANK', key, 0, -(keep + 1))
    end
    redis.call('INCR', KEYS[n + i])
    redis.call('EXPIRE', KEYS[n + i], ttl)
  end
end
return n
"""

# A page, read in one atomic step so writes between its commands cannot shift it.
# Everything above the position is counted (entries with a higher score, plus ties
# whose member is not below the probe) and the page starts right after them. Ties are
# compared byte by byte, the way Redis orders them; Lua's own `<` follows the locale.
_PAGE_SCRIPT = """
local function below(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local key, limit = KEYS[1], tonumber(ARGV[1])
local start = 0
if ARGV[2] ~= '' then
  local score, probe = ARGV[2], ARGV[3]
  start = redis.call('ZCOUNT', key, '(' .. score, '+inf')
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, score, score)) do
    if not below(member, probe) then start = start + 1 end
  end
end
return redis.call('ZREVRANGE', key, start, start + limit - 1)
"""


def feed_key(username: str) -> str:
    return FEED_KEY_PREFIX + username


@asynccontextmanager
async def _reachable() -> AsyncIterator[None]:
    """Redis away is a temporary condition the caller can report as such (gRPC
    UNAVAILABLE, an event redelivered later), not an internal error."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise Unavailable("the feed store is unavailable") from exc


class RedisFeedStore:
    def __init__(self, redis: Redis, max_length: int, write_chunk: int = WRITE_CHUNK) -> None:
        self._redis = redis
        self._max = max_length
        self._chunk = write_chunk
        self._page_script = redis.register_script(_PAGE_SCRIPT)
        self._add_script = redis.register_script(_ADD_SCRIPT)

    @classmethod
    def from_url(cls, url: str, max_length: int) -> RedisFeedStore:
        redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
        return cls(redis, max_length)

    async def add(self, event: LinkEvent, followers: Sequence[str]) -> None:
        member, score = encode(event)
        args: list[str | int] = [member, score, self._max, NEWS_VERSION_KEY_SECONDS]
        for i in range(0, len(followers), self._chunk):
            # Every write is idempotent, so a chunk (or an event) that failed part way
            # is simply written again when the event is redelivered.
            chunk = followers[i : i + self._chunk]
            keys = [FEED_KEY_PREFIX + f for f in chunk] + [news_version_key(f) for f in chunk]
            async with _reachable():
                await self._add_script(keys=keys, args=args)

    async def page(self, username: str, limit: int, position: Position | None) -> list[FeedItem]:
        args: list[str | int] = [limit, "", ""]
        if position is not None:
            args = [limit, str(position.score), position.probe]
        async with _reachable():
            members = await self._page_script(keys=[feed_key(username)], args=args)
        return [decode(m) for m in members]

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        # types-redis predates aclose(); redis itself (typed since 5.0) has it.
        await self._redis.aclose()
