"""Login states are single use: the first callback presenting a state consumes it.

The signed cookie proves a state was issued to this browser; only a record on the
server can prove it has not been used yet. `UsedStates` is that record: in memory for a
single gateway instance, in Redis for replicas (`SET gw:login-state:<sha256(state)> 1 NX
EX <ttl>`, first use when it returns OK), so a callback replayed on another replica fails.
A state that cannot be recorded is a refused login (503), never an unchecked one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

from redis.exceptions import RedisError

from api_gateway.shared_state import KEY_PREFIX, SharedState
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


class RedisUsedStates:
    def __init__(self, shared: SharedState) -> None:
        self._shared = shared

    async def first_use(self, state: str, ttl_seconds: int) -> bool:
        # The hash keeps the state itself out of Redis; it is as unique as the state.
        key = f"{KEY_PREFIX}login-state:{hashlib.sha256(state.encode()).hexdigest()}"
        if not self._shared.available("login_state"):
            raise Unavailable("logins are unavailable for a moment; try again shortly")
        try:
            first = await self._shared.redis.set(key, "1", nx=True, ex=ttl_seconds)
        except (RedisError, OSError) as error:
            self._shared.failed("login_state", error)
            raise Unavailable("logins are unavailable for a moment; try again shortly") from None
        self._shared.succeeded("login_state")
        return bool(first)
