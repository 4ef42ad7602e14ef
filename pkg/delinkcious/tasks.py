"""Stopping background tasks for certain.

On Python 3.11, `asyncio.wait_for` can swallow a cancellation that arrives as what it
awaits finishes (CPython gh-86296). redis-py awaits every write that way when a socket
timeout is set, and nats-py awaits its requests that way, so a task cancelled at that
moment goes on as if nothing had happened: a shutdown that awaits it waits forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger("delinkcious.tasks")

# How often a task that is still running after cancel() is cancelled again.
RECANCEL_SECONDS = 0.05


async def cancel_and_wait(*tasks: asyncio.Future[Any], give_up_after: float = 5.0) -> None:
    """Cancels the tasks and returns once each has ended, cancelling again any that
    lost its cancellation. A task still running after `give_up_after` seconds is logged and left."""
    deadline = time.monotonic() + give_up_after
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - time.monotonic()
        if left <= 0:
            for task in pending:
                log.error("a task did not stop when cancelled", extra={"task": repr(task)})
            break
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_SECONDS, left))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a failure on the way out is not reported as lost
