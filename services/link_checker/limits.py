"""How much the checker may do: timeouts, redirects, body size and concurrency.

Concurrency is bounded twice: a global number of checks in flight, and a number of
requests in flight per host, so a burst of links to one site does not hammer it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

MIB = 1024 * 1024


@dataclass
class _HostSlots:
    semaphore: asyncio.Semaphore
    users: int = 0


@dataclass(eq=False)
class CheckLimits:
    concurrency: int = 20
    per_host: int = 2
    connect_timeout: float = 3.0
    # The whole check, every redirect hop included; time spent waiting for a free
    # slot is not counted, so a queue of checks does not turn into timeouts.
    total_timeout: float = 10.0
    max_redirects: int = 5
    max_body_bytes: int = MIB
    _global: asyncio.Semaphore = field(init=False, repr=False)
    _hosts: dict[str, _HostSlots] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.per_host < 1:
            raise ValueError("concurrency limits must be at least 1")
        self._global = asyncio.Semaphore(self.concurrency)

    @asynccontextmanager
    async def check_slot(self) -> AsyncIterator[None]:
        async with self._global:
            yield

    @asynccontextmanager
    async def host_slot(self, host: str) -> AsyncIterator[None]:
        """Held for one request. A check holds at most one host slot at a time (a
        redirect to another host takes that host's slot after releasing this one), so
        checks waiting on each other's hosts cannot deadlock."""
        slots = self._hosts.get(host)
        if slots is None:
            slots = self._hosts[host] = _HostSlots(asyncio.Semaphore(self.per_host))
        slots.users += 1
        try:
            async with slots.semaphore:
                yield
        finally:
            slots.users -= 1
            if slots.users == 0:  # forget idle hosts: the table stays as small as the work
                del self._hosts[host]
