"""Per-user rate limiting: a token bucket per user, in this instance's memory.

With N gateway replicas a user can reach N times the rate; that keeps the hot path free
of a shared store, and the limit exists to stop runaway clients, not to bill them.
"""

from __future__ import annotations

import math
import time

from delinkcious.errors import RateLimited


class RateLimiter:
    def __init__(self, per_second: float, burst: int, max_users: int = 100_000) -> None:
        self._rate = per_second
        self._burst = float(burst)
        self._max_users = max_users
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, last refill)

    def check(self, user: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(user, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1:
            self._buckets[user] = (tokens, now)
            retry_after = max(1, math.ceil((1 - tokens) / self._rate))
            raise RateLimited(f"too many requests; retry in {retry_after} s", retry_after=retry_after)
        if len(self._buckets) >= self._max_users and user not in self._buckets:
            self._buckets.clear()
        self._buckets[user] = (tokens - 1, now)
