"""One DNS lookup per name for all the checks that need it at about the same time.

Links arrive in bursts of one site (an import, a user saving a page's links), and each
check resolved the name again: twenty checks of one host were twenty lookups, queued two
at a time behind the host's slots. A lookup the resolver answers late (the C resolver
waits 5 s before it retries a lost query) then held a slot and every check of that host
behind it. Here checks of one name share one lookup in flight, and its answer, or its
failure, for a few seconds after.

Only the lookup is shared: every check still runs the address policy on the addresses
and connects to one it checked, so nothing here lets a name answer differently between
the check and the connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from link_checker.addresses import IPAddress
from link_checker.checker import Resolver

# Far below the TTL of most records, so a moved site is seen again within seconds.
ANSWER_SECONDS = 30.0
# A failure (no such name, a resolver down) is asked again soon.
FAILURE_SECONDS = 5.0
MAX_NAMES = 10_000


@dataclass(frozen=True)
class _Answer:
    until: float
    addresses: tuple[IPAddress, ...] = ()
    error: OSError | UnicodeError | None = None


class SharedLookups:
    def __init__(
        self,
        resolve: Resolver,
        answer_seconds: float = ANSWER_SECONDS,
        failure_seconds: float = FAILURE_SECONDS,
        max_names: int = MAX_NAMES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolve = resolve
        self._answer_seconds = answer_seconds
        self._failure_seconds = failure_seconds
        self._max_names = max_names
        self._clock = clock
        self._answers: dict[tuple[str, int], _Answer] = {}
        self._in_flight: dict[tuple[str, int], asyncio.Future[_Answer]] = {}

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        key = (host.lower(), port)
        answer = self._answers.get(key)
        if answer is None or answer.until <= self._clock():
            pending = self._in_flight.get(key)
            if pending is None:
                pending = self._in_flight[key] = asyncio.ensure_future(self._look_up(key, host, port))
            # Shielded: a check that gives up (its time budget ran out) leaves the lookup
            # to the others waiting on it.
            answer = await asyncio.shield(pending)
        if answer.error is not None:
            # A new exception each time: raising one object from many tasks would chain
            # their tracebacks onto it.
            raise type(answer.error)(*answer.error.args)
        return list(answer.addresses)

    async def _look_up(self, key: tuple[str, int], host: str, port: int) -> _Answer:
        try:
            try:
                found = await self._resolve(host, port)
            except (OSError, UnicodeError) as exc:
                answer = _Answer(self._clock() + self._failure_seconds, error=exc)
            else:
                answer = _Answer(self._clock() + self._answer_seconds, tuple(found))
            self._remember(key, answer)
            return answer
        finally:
            del self._in_flight[key]

    def _remember(self, key: tuple[str, int], answer: _Answer) -> None:
        if len(self._answers) >= self._max_names:
            now = self._clock()
            for old in [k for k, a in self._answers.items() if a.until <= now]:
                del self._answers[old]
            if len(self._answers) >= self._max_names:
                self._answers.clear()  # all still fresh: start over rather than grow
        self._answers[key] = answer
