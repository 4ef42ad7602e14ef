"""cancel_and_wait stops a task even when its first cancellation is lost, as Python
3.11's asyncio.wait_for loses one inside redis-py (the last test shows it happen)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from api_gateway.revocation import SharedTokenCache
from api_gateway.shared_state import SharedState
from delinkcious.tasks import cancel_and_wait
from tests.servers import RedisServer


async def _loses_first_cancel(ended: list[str]) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        asyncio.current_task().uncancel()  # type: ignore[union-attr]  # what the bug does
    await asyncio.sleep(3600)
    ended.append("never")


async def test_a_task_that_lost_its_cancellation_is_cancelled_again() -> None:
    ended: list[str] = []
    task = asyncio.create_task(_loses_first_cancel(ended))
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task), 2)
    assert task.cancelled() and ended == []


async def test_a_task_that_never_stops_is_left_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()  # type: ignore[union-attr]

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, "delinkcious.tasks"):
        await asyncio.wait_for(cancel_and_wait(task, give_up_after=0.3), 2)
    assert not task.done()
    assert "did not stop when cancelled" in caplog.text
    task.get_coro().close()


async def test_a_failed_task_is_waited_for_and_its_error_retrieved() -> None:
    async def fails() -> None:
        raise ValueError("on the way out")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert isinstance(task.exception(), ValueError)


def test_the_revocation_listener_stops_whenever_it_is_cancelled() -> None:
    """Cancelled at every point of its first steps against a real Redis: a plain
    cancel() lost its cancellation on some of these (the listener went on reading)."""
    server = RedisServer()
    server.start()

    async def scenario() -> None:
        for steps in range(40):
            shared = SharedState(server.url)
            listener = asyncio.create_task(SharedTokenCache(5, shared).run())
            for _ in range(steps):
                await asyncio.sleep(0)
            await asyncio.wait_for(cancel_and_wait(listener), 3)
            assert listener.done(), steps
            await shared.aclose()

    try:
        asyncio.run(scenario())
    finally:
        server.close()
