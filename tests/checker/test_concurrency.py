"""Checks run in parallel, but never more than the limits allow: per host and overall.

Handlers wait at a barrier for as many requests as the limit admits, so the limit is
reached for sure; then they give any request beyond the limit a moment to show up,
and count a request as in flight until just before they answer (the client frees a
slot only after the answer, so a finished request and its successor never overlap)."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler

from delinkcious.models import LinkStatus
from link_checker.limits import CheckLimits
from tests.checker.conftest import check, fixed_resolver
from tests.checker.pages import PageServer, Route, send

# Long enough for requests the limit should have held back to arrive over loopback.
OVERSHOOT_WINDOW_SECONDS = 0.1


class InFlight:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.now = 0
        self.most = 0
        self._changed = threading.Condition()
        self._together = threading.Barrier(limit, timeout=10)

    def route(self) -> Route:
        def held(handler: BaseHTTPRequestHandler) -> None:
            with self._changed:
                self.now += 1
                self.most = max(self.most, self.now)
                self._changed.notify_all()
            try:
                self._together.wait()
                with self._changed:
                    self._changed.wait_for(lambda: self.now > self.limit, OVERSHOOT_WINDOW_SECONDS)
            finally:
                with self._changed:
                    self.now -= 1
            send(handler, 200, b"<title>ok</title>")

        return held


async def test_one_host_gets_at_most_two_requests_at_a_time(pages: PageServer) -> None:
    flight = InFlight(limit=2)
    pages.routes["/held"] = flight.route()
    limits = CheckLimits(concurrency=20, per_host=2)
    outcomes = await asyncio.gather(*(check(pages.url("/held"), limits=limits) for _ in range(10)))
    assert [o.status for o in outcomes] == [LinkStatus.VALID] * 10
    assert len(pages.seen) == 10
    assert flight.most == 2


async def test_at_most_the_global_number_of_checks_run_at_once(pages: PageServer) -> None:
    flight = InFlight(limit=3)
    pages.routes["/held"] = flight.route()
    hosts = [f"host{i}.test" for i in range(9)]
    resolver = fixed_resolver({h: ["127.0.0.1"] for h in hosts})
    limits = CheckLimits(concurrency=3, per_host=2)
    outcomes = await asyncio.gather(
        *(check(f"http://{h}:{pages.port}/held", resolver=resolver, limits=limits) for h in hosts)
    )
    assert [o.status for o in outcomes] == [LinkStatus.VALID] * 9
    assert flight.most == 3
