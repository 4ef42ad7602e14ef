"""The event bus: NATS JetStream streams, publishing with broker-side de-duplication,
and durable pull consumers that acknowledge only after their handler succeeded.

Subjects:
  delinkcious.links.<event_type>    link events from link-manager's outbox (stream LINKS)
  delinkcious.checks.result         link-checker's verdicts               (stream LINK_CHECKS)
  delinkcious.checks.request        re-check requests from link-manager   (stream LINK_CHECKS)

Messages carry the W3C trace context (`traceparent`, `tracestate`) and the request id
(`x-request-id`) in their headers, never in the payload: a consumer's span continues
the trace of the request that caused the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError, NoServersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError
from opentelemetry.trace import SpanKind

from delinkcious import tracing
from delinkcious.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_PENDING,
    EVENT_HANDLING_DURATION,
    EVENTS_CONSUMED,
    EVENTS_PUBLISHED,
)
from delinkcious.tasks import cancel_and_wait

log = logging.getLogger("delinkcious.events")

LINK_SUBJECT_PREFIX = "delinkcious.links"
CHECK_RESULT_SUBJECT = "delinkcious.checks.result"
CHECK_REQUEST_SUBJECT = "delinkcious.checks.request"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age_seconds: int
    max_bytes: int


# Retention bounds what a stream keeps; the duplicate window is how long the broker
# remembers message ids, so an outbox row re-published within it is dropped.
STREAMS = (
    StreamSpec("LINKS", (f"{LINK_SUBJECT_PREFIX}.>",), 7 * 86_400, 1024**3),
    StreamSpec("LINK_CHECKS", ("delinkcious.checks.>",), 3 * 86_400, 512 * 1024**2),
)
DUPLICATE_WINDOW_SECONDS = 600
# How often a consumer samples its lag from the server (one request each time).
LAG_SAMPLE_SECONDS = 15.0


def link_subject(event_type: str) -> str:
    return f"{LINK_SUBJECT_PREFIX}.{event_type}"


Handler = Callable[[Msg], Awaitable[None]]


class EventBus:
    """One NATS connection per service, owned by the service's lifespan."""

    def __init__(self, url: str, client_name: str) -> None:
        self._url = url
        self._name = client_name
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._streams_ready = False
        self._connected = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None

    async def connect(self, wait_seconds: float = 5.0) -> None:
        """Starts connecting and waits up to `wait_seconds` for it. NATS being down is
        not fatal: connecting goes on in the background, and writes wait in the outbox."""
        self._connector = asyncio.create_task(self._connect_until_done())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._connected.wait()), wait_seconds)

    async def _connect_until_done(self) -> None:
        while True:
            try:
                nc = await nats.connect(
                    self._url,
                    name=self._name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,  # once connected, never give up
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                )
            except (NoServersError, OSError, TimeoutError) as exc:
                log.info("waiting for nats", extra={"reason": f"{type(exc).__name__}: {exc}"})
                await asyncio.sleep(0.5)
                continue
            self._nc = nc
            self._js = nc.jetstream(timeout=5)
            self._connected.set()
            return

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats error", extra={"reason": f"{type(exc).__name__}: {exc}"})

    async def _on_disconnect(self) -> None:
        log.warning("nats disconnected")

    async def _on_reconnect(self) -> None:
        log.info("nats reconnected")

    @property
    def name(self) -> str:
        return self._name

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise ConnectionError("not connected to NATS yet")
        return self._js

    async def ensure_streams(self) -> None:
        """Creates or updates the streams; safe to call from every replica at every start."""
        if self._streams_ready:
            return
        for spec in STREAMS:
            config = js_api.StreamConfig(
                name=spec.name,
                subjects=list(spec.subjects),
                retention=js_api.RetentionPolicy.LIMITS,
                storage=js_api.StorageType.FILE,
                max_age=spec.max_age_seconds,
                max_bytes=spec.max_bytes,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
                discard=js_api.DiscardPolicy.OLD,
            )
            try:
                await self.js.stream_info(spec.name)
                await self.js.update_stream(config)
            except NotFoundError:
                await self.js.add_stream(config)
        self._streams_ready = True

    async def ping(self) -> None:
        if not self.connected:
            raise ConnectionError("not connected to NATS")
        await self.js.account_info()

    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: dict[str, str] | None = None
    ) -> None:
        """Returns once JetStream has stored the message (or recognised its id as a
        duplicate). Raises on any failure; the caller retries with the same id.
        The message goes out in a producer span, whose context its headers carry."""
        attributes = {
            "messaging.system": "nats",
            "messaging.operation.type": "send",
            "messaging.destination.name": subject,
            "messaging.message.id": msg_id,
        }
        if not self.connected:
            # No span: a relay retrying through an outage would add one to the trace
            # of its pending event every half second.
            EVENTS_PUBLISHED.labels(subject, "failed").inc()
            raise ConnectionError("not connected to NATS")
        outcome = "failed"
        with tracing.span(f"publish {subject}", SpanKind.PRODUCER, attributes):
            try:
                await self.ensure_streams()
                sent = {**tracing.inject({}), **(headers or {}), "Nats-Msg-Id": msg_id}
                ack = await self.js.publish(subject, payload, timeout=5, headers=sent)
                outcome = "duplicate" if ack.duplicate else "stored"
            finally:
                EVENTS_PUBLISHED.labels(subject, outcome).inc()

    async def close(self) -> None:
        """Drains: in-flight handlers finish and their acks are flushed before closing."""
        if self._connector is not None and not self._connector.done():
            await cancel_and_wait(self._connector)
        if self._nc is not None and not self._nc.is_closed:
            try:
                await asyncio.wait_for(self._nc.drain(), timeout=10)
            except Exception as exc:
                log.warning("nats drain failed", extra={"reason": str(exc)})
                await self._nc.close()


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    subjects: tuple[str, ...]
    ack_wait_seconds: float = 30
    max_ack_pending: int = 1000
    batch: int = 20
    # Handle up to `batch` messages at once rather than one after another: for a
    # handler whose work is mostly waiting (news-manager's follower look-ups) and whose
    # effects do not depend on order, so a burst (an import) drains `batch` times faster.
    # Messages are fetched whenever a handler slot is free, not once a whole batch is
    # done: under a steady rate one slow message then delays nobody else's. They are
    # fetched one per pull (see _fetch_unless_stopped), thousands a second, far more
    # than any handler here gets through.
    concurrent: bool = False


async def run_consumer(
    bus: EventBus,
    spec: ConsumerSpec,
    handler: Handler,
    stop: asyncio.Event,
    *,
    retry_delay: float = 1.0,
) -> None:
    """Pulls from a durable consumer until `stop` is set. A message is acknowledged only
    after `handler` returned; a handler failure asks for redelivery after a delay.
    Survives NATS restarts: fetches fail while it is away and resume when it is back."""
    sub: JetStreamContext.PullSubscription | None = None
    waiting = False
    next_sample = 0.0
    in_flight: set[asyncio.Task[None]] = set()
    slots = spec.batch if spec.concurrent else 1
    try:
        while not stop.is_set():
            if len(in_flight) >= slots:
                await _wait_for_a_slot(in_flight, stop)
                continue
            try:
                if sub is None:
                    await bus.ensure_streams()
                    durable = await _ensure_consumer(bus, spec)
                    sub = await bus.js.pull_subscribe_bind(durable=durable, stream=spec.stream)
                if time.monotonic() >= next_sample:
                    next_sample = time.monotonic() + LAG_SAMPLE_SECONDS
                    await _sample_lag(sub, spec)
                msgs = await _fetch_unless_stopped(sub, stop)
            except NatsTimeout:
                continue
            except (TimeoutError, ConnectionClosedError, NoServersError, ConnectionError, OSError) as exc:
                if not waiting:  # once per outage, not once per retry
                    log.info("consumer waiting for nats", extra={"durable": spec.durable, "reason": str(exc)})
                    waiting = True
                await _sleep_or_stop(stop, retry_delay)
                continue
            except Exception as exc:
                log.warning("consumer fetch failed", extra={"durable": spec.durable, "reason": repr(exc)})
                sub = None
                await _sleep_or_stop(stop, retry_delay)
                continue
            waiting = False
            if not spec.concurrent:
                for msg in msgs:
                    await _handle(msg, handler, spec, retry_delay, bus.name)
                continue
            for msg in msgs:
                task = asyncio.create_task(_handle(msg, handler, spec, retry_delay, bus.name))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        # Stopping: the messages in hand are finished (and acknowledged), as a plain
        # consumer finishes its current one.
        if in_flight:
            await asyncio.wait(set(in_flight))
    finally:
        for task in in_flight:
            task.cancel()  # only when cancelled itself: unfinished work is redelivered
        if sub is not None:
            # Leaves the durable consumer in place; only this client's interest ends,
            # so the connection can drain without waiting on an open pull.
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


async def _wait_for_a_slot(in_flight: set[asyncio.Task[None]], stop: asyncio.Event) -> None:
    """Until a handler finishes, or a stop (then the caller finishes those in flight)."""
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({*in_flight, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()


async def _fetch_unless_stopped(sub: JetStreamContext.PullSubscription, stop: asyncio.Event) -> list[Msg]:
    """The next message, the moment it arrives. A stop ends a waiting fetch at once;
    anything it had pulled but not handled is redelivered after the ack wait, never lost.

    One message per pull: nats-py's fetch of several can hold a message it already
    received while it waits for the rest of the batch, until the pull expires (when a
    late status answer of an earlier pull is taken for the first answer of this one,
    the message of a quiet moment waited up to 5 s). A pull of one returns the message
    it gets, and a stray status only ends it early."""
    fetch = asyncio.ensure_future(sub.fetch(1, timeout=5))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        # Cancelled itself: asyncio.wait would leave the pull running, owned by nobody.
        fetch.cancel()
        with contextlib.suppress(BaseException):
            await fetch
        raise
    finally:
        stopped.cancel()
    if not fetch.done():
        fetch.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await fetch
        return []
    return fetch.result()


async def _handle(msg: Msg, handler: Handler, spec: ConsumerSpec, retry_delay: float, service: str) -> None:
    """Runs the handler in a consumer span that continues the producer's trace, with the
    producer's request id on its log lines; counts and times the outcome."""
    headers = msg.headers or {}
    attributes = {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.destination.name": msg.subject,
        "messaging.consumer.group.name": spec.durable,
        "messaging.message.id": headers.get("Nats-Msg-Id", ""),
        "delinkcious.service": service,
    }
    start = time.perf_counter()
    with (
        tracing.continued(headers),
        tracing.span(f"process {msg.subject}", SpanKind.CONSUMER, attributes) as span,
    ):
        try:
            await handler(msg)
        except Exception as exc:
            EVENTS_CONSUMED.labels(spec.durable, "failed").inc()
            span.record_exception(exc)
            tracing.mark_error(span, type(exc).__name__)
            log.warning(
                "event handling failed; will be redelivered",
                extra={"durable": spec.durable, "subject": msg.subject, "reason": repr(exc)},
            )
            await _quietly(msg.nak(delay=retry_delay))
        else:
            EVENTS_CONSUMED.labels(spec.durable, "acked").inc()
            await _quietly(msg.ack())
        finally:
            EVENT_HANDLING_DURATION.labels(spec.durable).observe(time.perf_counter() - start)


async def _sample_lag(sub: JetStreamContext.PullSubscription, spec: ConsumerSpec) -> None:
    """The consumer's lag as the server counts it; a failed sample leaves the last one."""
    try:
        info = await sub.consumer_info()
    except Exception as exc:
        log.debug("consumer lag not sampled", extra={"durable": spec.durable, "reason": repr(exc)})
        return
    CONSUMER_PENDING.labels(spec.durable).set(info.num_pending or 0)
    CONSUMER_ACK_PENDING.labels(spec.durable).set(info.num_ack_pending or 0)


async def _ensure_consumer(bus: EventBus, spec: ConsumerSpec) -> str:
    config = js_api.ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=js_api.AckPolicy.EXPLICIT,
        deliver_policy=js_api.DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_seconds,
        max_ack_pending=spec.max_ack_pending,
        filter_subjects=list(spec.subjects),
    )
    await bus.js.add_consumer(spec.stream, config)  # idempotent for an identical config
    return spec.durable


async def _quietly(awaitable: Awaitable[None]) -> None:
    """An ack lost to a disconnect means a redelivery, which handlers absorb."""
    try:
        await awaitable
    except Exception as exc:
        log.info("ack not delivered", extra={"reason": repr(exc)})


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
