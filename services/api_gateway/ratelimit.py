"""Per-user rate limiting: RATE_LIMIT_PER_SECOND requests a second on average, with
bursts of up to RATE_LIMIT_BURST, and 429 with Retry-After past that.

Both limiters keep the same promise, a token bucket of `burst` tokens refilled at
`per_second`: the in-memory one per gateway instance (the local run without Redis, unit
tests), the Redis one for all replicas together. The Redis one runs GCRA (the generic
cell rate algorithm, the token bucket kept as a single timestamp per user) in one Lua
script, so a request costs one round trip, and reads the clock of Redis, not of the
replicas. When Redis is away each replica falls back to its own in-memory limit: users
can then reach N times the rate on N replicas, never an unlimited gateway, and never a
gateway that refuses everyone because a cache is down.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Protocol

from redis.exceptions import NoPermissionError, RedisError

from api_gateway.shared_state import KEY_PREFIX, SharedState
from delinkcious.errors import RateLimited


class RateLimiter(Protocol):
    async def check(self, user: str, read: str | None = None) -> str | None:
        """Raises RateLimited (429, with retry_after) when `user` is over the limit.
        `read`: a shared key whose value to read in the same round trip (a missing key
        reads "0"); returns it, or None when there is no shared state to read it from."""
        ...


log = logging.getLogger("api_gateway.ratelimit")


def _limited(seconds: float) -> RateLimited:
    retry_after = max(1, math.ceil(seconds))
    return RateLimited(f"too many requests; retry in {retry_after} s", retry_after=retry_after)


class InMemoryRateLimiter:
    def __init__(self, per_second: float, burst: int, max_users: int = 100_000) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._max_users = max_users
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, last refill)

    async def check(self, user: str, read: str | None = None) -> str | None:
        self.check_now(user)
        return None

    def check_now(self, user: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(user, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1:
            self._buckets[user] = (tokens, now)
            raise _limited((1 - tokens) / self._rate)
        if len(self._buckets) >= self._max_users and user not in self._buckets:
            self._buckets.clear()
        self._buckets[user] = (tokens - 1, now)


# KEYS[1]: the user's theoretical arrival time (TAT), in ms of Redis' clock.
# ARGV[1]: the emission interval (ms per request), ARGV[2]: burst * interval (ms).
# A request is allowed when the TAT it would leave is at most `burst` intervals ahead
# of now; a refusal changes nothing. Returns {1, 0} or {0, ms until one is allowed}.
# KEYS[2], when given, is read in the same round trip and its value (or "0") returned
# third: the list cache's version of the user's links (list_cache.py) costs no call.
_GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - capacity
if wait > 0 then return {0, math.ceil(wait)} end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1)
if KEYS[2] then return {1, 0, redis.call('GET', KEYS[2]) or '0'} end
return {1, 0}
"""


def rate_key(user: str) -> str:
    return f"{KEY_PREFIX}rate:{user}"


class RedisRateLimiter:
    def __init__(self, shared: SharedState, per_second: float, burst: int) -> None:
        self._shared = shared
        self._interval_ms = 1000.0 / per_second
        self._capacity_ms = burst * self._interval_ms
        # EVALSHA; after a Redis restart (NOSCRIPT) redis-py loads the script once again.
        self._script = shared.redis.register_script(_GCRA_SCRIPT)
        self.fallback = InMemoryRateLimiter(per_second, burst)
        self._told_refused: set[str] = set()

    async def check(self, user: str, read: str | None = None) -> str | None:
        if self._shared.available("rate_limit"):
            keys = [rate_key(user)] if read is None else [rate_key(user), read]
            try:
                answer = await self._script(
                    keys=keys, args=[repr(self._interval_ms), repr(self._capacity_ms)]
                )
            except NoPermissionError as error:
                if read is None:
                    self._shared.failed("rate_limit", error)
                else:
                    # Redis answers, but this user may not read `read` (an ACL from before
                    # the news cache): limit without it; the caller neither serves nor keeps
                    # the pages that version guards.
                    self._refused(read, error)
                    return await self.check(user)
            except (RedisError, OSError) as error:
                self._shared.failed("rate_limit", error)
            else:
                self._shared.succeeded("rate_limit")
                if not answer[0]:
                    raise _limited(int(answer[1]) / 1000)
                return str(answer[2]) if read is not None else None
        self.fallback.check_now(user)
        return None

    def _refused(self, key: str, error: NoPermissionError) -> None:
        prefix = key.rsplit(":", 1)[0]
        if prefix not in self._told_refused:
            self._told_refused.add(prefix)
            log.error(
                "Redis refuses reading %s:*: give the gateway's Redis user the chart's redisAcl; "
                "until then the pages that version guards are not cached",
                prefix,
                extra={"reason": str(error)},
            )
