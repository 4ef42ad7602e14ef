"""link-manager's background work, started and stopped by the app's lifespan:

- the outbox relay publishes link events to JetStream, in order, marking each row
  published only once JetStream stored it (the event id is the message id, so a
  row published twice after a crash is dropped by the broker);
- the check-result consumer applies the link checker's verdicts;
- the re-check scheduler asks for links whose last check is too old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from nats.aio.msg import Msg
from pydantic import ValidationError

from delinkcious import tracing
from delinkcious.events import (
    CHECK_REQUEST_SUBJECT,
    CHECK_RESULT_SUBJECT,
    ConsumerSpec,
    EventBus,
    Handler,
    link_subject,
    run_consumer,
)
from delinkcious.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from delinkcious.models import LinkCheckResult
from delinkcious.timeutil import utcnow
from link_service.store import LinkStore, OutboxEntry

log = logging.getLogger("link_service.workers")

# Handled concurrently, so the results of a burst reach the store together and share
# its transactions; their order does not matter (a result older than the link's last
# check is ignored).
CHECK_RESULTS = ConsumerSpec(
    "LINK_CHECKS", "link-manager-check-results", (CHECK_RESULT_SUBJECT,), concurrent=True
)
# A link still pending this long after being added lost its first check; ask again.
PENDING_GRACE = timedelta(minutes=15)
GAUGE_SECONDS = 1.0


class OutboxRelay:
    def __init__(
        self, store: LinkStore, bus: EventBus, *, batch: int = 100, poll_seconds: float = 0.5
    ) -> None:
        self._store = store
        self._bus = bus
        self._batch = batch
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Until one publish succeeded the bus may still create its streams on the first
        # publish; concurrent first publishes would race that and reorder.
        self._primed = False

    def notify(self) -> None:
        """Called after a write (from any thread) so the event goes out at once."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def relay_once(self) -> int:
        """Publishes pending rows oldest first and stops after the first failure, so the
        events of one link never overtake each other. Returns how many went out."""
        entries = await asyncio.to_thread(self._store.pending_outbox, self._batch)
        published: list[str] = []
        try:
            for wave in _waves(entries, first_alone=not self._primed):
                # The messages of one wave are sent in order on the one connection and
                # their acks awaited together: one round trip per wave, not per event.
                outcomes = await asyncio.gather(*(self._publish(e) for e in wave), return_exceptions=True)
                published += [e.event.event_id for e, o in zip(wave, outcomes, strict=True) if o is None]
                failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
                if failure is not None:
                    # What the wave stored is marked; the rest of the wave and every
                    # later wave wait, so no link's later event goes out before the
                    # failed one (a stored one published again is dropped by its id).
                    raise failure
                self._primed = True
        finally:
            if published:
                await asyncio.to_thread(self._store.mark_published, published, utcnow())
        return len(published)

    async def _publish(self, entry: OutboxEntry) -> None:
        event = entry.event
        # Published in the trace of the request that wrote the row.
        with tracing.continued(tracing.restore(entry.trace_context)):
            await self._bus.publish(
                link_subject(event.event_type.value), event.model_dump_json().encode(), event.event_id
            )

    async def observe_backlog(self) -> None:
        """Sets the backlog gauges; they keep growing while NATS is away, which is when
        they matter."""
        count, oldest = await asyncio.to_thread(self._store.outbox_backlog)
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST_AGE.set(max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)

    async def run(self, stop: asyncio.Event, retention: timedelta) -> None:
        self._loop = asyncio.get_running_loop()
        next_purge = next_gauges = 0.0
        while not stop.is_set():
            self._wake.clear()
            sent = 0
            try:
                sent = await self.relay_once()
                if self._loop.time() >= next_purge:
                    await asyncio.to_thread(self._store.purge_published, utcnow() - retention)
                    next_purge = self._loop.time() + 600
            except Exception as exc:  # NATS away or the database busy: rows wait
                log.info("outbox relay waiting", extra={"reason": f"{type(exc).__name__}: {exc}"})
            if self._loop.time() >= next_gauges:
                # A COUNT and MIN over the outbox: once a second is enough for a gauge
                # and keeps a busy relay's rounds short.
                next_gauges = self._loop.time() + GAUGE_SECONDS
                with contextlib.suppress(Exception):  # the database away: the gauges keep their values
                    await self.observe_backlog()
            if sent == self._batch:
                continue  # more are waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(self._wake, stop), self._poll)


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _waves(entries: list[OutboxEntry], *, first_alone: bool) -> list[list[OutboxEntry]]:
    """Consecutive runs of entries with at most one event per link: an event is never
    in flight together with an earlier event of its link."""
    waves: list[list[OutboxEntry]] = []
    links: set[int] = set()
    for entry in entries:
        if not waves or entry.event.link_id in links or (first_alone and len(waves) == 1):
            waves.append([])
            links = set()
        waves[-1].append(entry)
        links.add(entry.event.link_id)
    return waves


def check_result_handler(store: LinkStore) -> Handler:
    async def handle(msg: Msg) -> None:
        try:
            result = LinkCheckResult.model_validate_json(msg.data)
        except ValidationError as exc:
            # A malformed message will never parse: log it and let it be acknowledged
            # rather than redelivered forever.
            log.error("dropping malformed check result", extra={"reason": str(exc)[:500]})
            return
        applied = await asyncio.to_thread(store.apply_check, result, utcnow())
        log.info(
            "check result",
            extra={"link_id": result.link_id, "status": result.status.value, "applied": applied},
        )

    return handle


async def run_check_results(store: LinkStore, bus: EventBus, stop: asyncio.Event) -> None:
    await run_consumer(bus, CHECK_RESULTS, check_result_handler(store), stop)


async def request_rechecks(store: LinkStore, bus: EventBus, interval: timedelta, limit: int = 1000) -> int:
    now = utcnow()
    due = await asyncio.to_thread(store.due_for_check, now - interval, now - PENDING_GRACE, limit)
    # Replicas scanning at about the same time publish the same requests; one id per
    # link per ten minutes lets the broker drop the copies.
    window = int(now.timestamp() // 600)
    for request in due:
        await bus.publish(
            CHECK_REQUEST_SUBJECT, request.model_dump_json().encode(), f"recheck-{request.link_id}-{window}"
        )
    return len(due)


async def run_rechecks(
    store: LinkStore, bus: EventBus, stop: asyncio.Event, interval: timedelta, scan_every: timedelta
) -> None:
    while not stop.is_set():
        try:
            count = await request_rechecks(store, bus, interval)
            if count:
                log.info("requested re-checks", extra={"count": count})
        except Exception as exc:
            log.info("re-check scan failed", extra={"reason": f"{type(exc).__name__}: {exc}"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), scan_every.total_seconds())
