"""Login states are single use: the first callback presenting a state consumes it.

The signed cookie proves a state was issued to this browser; only a record on the
server can prove it has not been used yet. `UsedStates` is that record. The in-memory
one serves a single gateway instance; with several replicas a shared store is needed
(in Redis: `SET login-state:<sha256(state)> 1 NX EX <ttl>`, first use when it returns OK).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from delinkcious.errors import Unavailable


class UsedStates(Protocol):
    async def first_use(self, state: str, ttl_seconds: int) -> bool:
        """Records `state` as used and says whether this was its first use. The record
        must outlive the state's cookie (`ttl_seconds`), or a replay could pass."""
        ...


class InMemoryUsedStates:
    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}

    async def first_use(self, state: str, ttl_seconds: int) -> bool:
        now = self._clock()
        expires = self._expiry.get(state)
        if expires is not None and expires > now:
            return False
        if len(self._expiry) >= self._max:
            self._expiry = {s: t for s, t in self._expiry.items() if t > now}
            if len(self._expiry) >= self._max:
                # Forgetting live records would let their states be replayed; refusing
                # new logins for a moment is the safe side.
                raise Unavailable("too many logins in progress; try again in a minute")
        self._expiry[state] = now + ttl_seconds
        return True
