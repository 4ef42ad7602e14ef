"""The event bus against a real NATS JetStream server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from delinkcious.events import ConsumerSpec, EventBus, link_subject, run_consumer
from tests.servers import NatsServer


async def wait_until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_same_message_id_is_stored_once(nats_url: str) -> None:
    bus = EventBus(nats_url, "test")
    await bus.connect()
    try:
        await bus.ensure_streams()
        before = (await bus.js.stream_info("LINKS")).state.messages
        msg_id = str(uuid.uuid4())
        for _ in range(3):
            await bus.publish(link_subject("link_added"), b"{}", msg_id)
        after = (await bus.js.stream_info("LINKS")).state.messages
        assert after - before == 1
    finally:
        await bus.close()


async def test_consumer_acks_after_success_and_retries_failures(own_nats: NatsServer) -> None:
    bus = EventBus(own_nats.url, "test")
    await bus.connect()
    seen: list[bytes] = []
    failures = {"left": 2}

    async def handler(msg: Msg) -> None:
        if msg.data == b"flaky" and failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("transient")
        seen.append(msg.data)

    stop = asyncio.Event()
    spec = ConsumerSpec("LINKS", "test-consumer", (link_subject("link_added"),))
    task = asyncio.create_task(run_consumer(bus, spec, handler, stop, retry_delay=0.05))
    try:
        for data in (b"one", b"flaky", b"two"):
            await bus.publish(link_subject("link_added"), data, str(uuid.uuid4()))
        await bus.publish(link_subject("link_deleted"), b"filtered-out", str(uuid.uuid4()))
        await wait_until(lambda: len(seen) == 3)
        assert sorted(seen) == [b"flaky", b"one", b"two"]
        assert failures["left"] == 0
    finally:
        stop.set()
        await task
        await bus.close()


async def test_consumer_survives_a_broker_restart(own_nats: NatsServer) -> None:
    bus = EventBus(own_nats.url, "test")
    await bus.connect()
    seen: list[bytes] = []

    async def handler(msg: Msg) -> None:
        seen.append(msg.data)

    stop = asyncio.Event()
    spec = ConsumerSpec("LINKS", "restart-consumer", (f"{link_subject('>')}",))
    task = asyncio.create_task(run_consumer(bus, spec, handler, stop, retry_delay=0.1))
    try:
        await bus.publish(link_subject("link_added"), b"before", str(uuid.uuid4()))
        await wait_until(lambda: seen == [b"before"])
        own_nats.stop()
        await asyncio.sleep(0.5)
        own_nats.start()
        await wait_until(lambda: bus.connected, within=15)
        await bus.publish(link_subject("link_added"), b"after", str(uuid.uuid4()))
        await wait_until(lambda: seen == [b"before", b"after"], within=15)
    finally:
        stop.set()
        await task
        await bus.close()


async def _in_flight_at_once(own_nats: NatsServer, concurrent: bool) -> int:
    """Publishes a batch, then counts how many handlers were running at the same time.
    Each handler waits until 5 are in flight (or a short while), so one after another
    reaches 1 and a concurrent consumer reaches 5."""
    bus = EventBus(own_nats.url, "test")
    await bus.connect()
    in_flight, most, done = 0, 0, 0
    all_in = asyncio.Event()

    async def handler(msg: Msg) -> None:
        nonlocal in_flight, most, done
        in_flight += 1
        most = max(most, in_flight)
        if in_flight >= 5:
            all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), timeout=0.3)
        in_flight -= 1
        done += 1

    await bus.ensure_streams()
    for _ in range(5):
        await bus.publish(link_subject("link_added"), b"x", str(uuid.uuid4()))
    stop = asyncio.Event()
    spec = ConsumerSpec("LINKS", f"batch-{concurrent}", (link_subject("link_added"),), concurrent=concurrent)
    task = asyncio.create_task(run_consumer(bus, spec, handler, stop, retry_delay=0.05))
    try:
        await wait_until(lambda: done >= 5, within=15)
    finally:
        stop.set()
        await task
        await bus.close()
    return most


async def test_a_concurrent_consumer_handles_a_batch_at_once(own_nats: NatsServer) -> None:
    assert await _in_flight_at_once(own_nats, concurrent=True) == 5


async def test_a_plain_consumer_handles_one_message_at_a_time(own_nats: NatsServer) -> None:
    assert await _in_flight_at_once(own_nats, concurrent=False) == 1


async def test_a_slow_message_does_not_hold_up_those_fetched_after_it(own_nats: NatsServer) -> None:
    """A concurrent consumer fetches while a handler is busy: a message published after
    a slow one is handled before the slow one finishes."""
    bus = EventBus(own_nats.url, "test")
    await bus.connect()
    release = asyncio.Event()
    handled: list[bytes] = []

    async def handler(msg: Msg) -> None:
        if msg.data == b"slow":
            await release.wait()
        handled.append(msg.data)

    await bus.ensure_streams()
    stop = asyncio.Event()
    spec = ConsumerSpec("LINKS", "slow-first", (link_subject("link_added"),), concurrent=True)
    task = asyncio.create_task(run_consumer(bus, spec, handler, stop, retry_delay=0.05))
    try:
        await bus.publish(link_subject("link_added"), b"slow", str(uuid.uuid4()))
        await asyncio.sleep(0.3)  # the slow one is fetched and in its handler
        await bus.publish(link_subject("link_added"), b"quick", str(uuid.uuid4()))
        await wait_until(lambda: handled == [b"quick"], within=5)
        release.set()
        await wait_until(lambda: handled == [b"quick", b"slow"], within=5)
    finally:
        release.set()
        stop.set()
        await task
        await bus.close()


async def test_a_message_is_handled_when_it_arrives_even_after_a_stray_status(own_nats: NatsServer) -> None:
    """A pull's status answer (408, the pull expired) can reach the consumer after it
    has already sent its next pull. nats-py's batch fetch then took the stray status for
    the answer to its probe and held the next message until its own pull expired, up
    to 5 s later. Each message must still be handled at once: the stray status is sent
    here by hand to the consumer's inbox, a few times, while the consumer waits."""
    bus = EventBus(own_nats.url, "test")
    await bus.connect()
    await bus.ensure_streams()
    inboxes: list[str] = []
    bind = bus.js.pull_subscribe_bind

    async def recording_bind(*args: object, **kwargs: object) -> JetStreamContext.PullSubscription:
        sub = await bind(*args, **kwargs)  # type: ignore[arg-type]
        inboxes.append(sub._deliver)  # the subject its pulls are answered on
        return sub

    bus.js.pull_subscribe_bind = recording_bind  # type: ignore[method-assign]
    handled: dict[bytes, float] = {}

    async def handler(msg: Msg) -> None:
        handled[msg.data] = asyncio.get_running_loop().time()

    stop = asyncio.Event()
    spec = ConsumerSpec("LINKS", "stray-status", (link_subject("link_added"),), concurrent=True)
    task = asyncio.create_task(run_consumer(bus, spec, handler, stop, retry_delay=0.05))
    try:
        await wait_until(lambda: bool(inboxes))
        delays = []
        for i in range(4):
            await asyncio.sleep(0.3)  # the consumer is waiting in a pull
            stray = {"Status": "408", "Description": "Request Timeout"}
            await bus.js._nc.publish(inboxes[-1], b"", headers=stray)
            await asyncio.sleep(0.05)
            data = f"m{i}".encode()
            sent = asyncio.get_running_loop().time()
            await bus.publish(link_subject("link_added"), data, str(uuid.uuid4()))
            await wait_until(lambda data=data: data in handled, within=10)  # type: ignore[misc]
            delays.append(handled[data] - sent)
        # Handled within milliseconds; a held message waits for its pull's 5 s expiry.
        assert max(delays) < 1.0, delays
    finally:
        stop.set()
        await task
        await bus.close()


def _pulls() -> list[asyncio.Task[object]]:
    return [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "").endswith("PullSubscription.fetch")
    ]


async def test_a_cancelled_consumer_leaves_no_pull_behind(own_nats: NatsServer) -> None:
    """Cancelled rather than stopped (its service's task group going down), a consumer
    waiting for a message ends its pull too, instead of leaving it running unowned."""
    bus = EventBus(own_nats.url, "test")
    await bus.connect()
    spec = ConsumerSpec("LINKS", f"test-cancel-{uuid.uuid4().hex[:8]}", (link_subject("link_added"),))

    async def handler(msg: Msg) -> None:
        pass

    task = asyncio.create_task(run_consumer(bus, spec, handler, asyncio.Event()))
    try:
        await wait_until(lambda: bool(_pulls()))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert not [t for t in _pulls() if not t.done()]
    finally:
        await bus.close()
