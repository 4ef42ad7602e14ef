"""The event bus against a real NATS JetStream server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from nats.aio.msg import Msg

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
