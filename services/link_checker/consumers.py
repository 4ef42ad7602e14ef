"""What the checker consumes: new links from link-manager's events and re-check
requests, each on a durable pull consumer shared by every replica.

A message is acknowledged only once its result is published, so a crash mid-check
means a redelivery (one more check), never a link left pending. Each consumer runs
several pull loops so checks proceed in parallel; `CheckLimits` bounds the real work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

from nats.aio.msg import Msg
from pydantic import ValidationError

from delinkcious.events import (
    CHECK_REQUEST_SUBJECT,
    ConsumerSpec,
    EventBus,
    Handler,
    link_subject,
    run_consumer,
)
from delinkcious.models import CheckRequest, EventType, LinkEvent
from delinkcious.tasks import cancel_and_wait
from link_checker.service import LinkCheckerService

log = logging.getLogger("link_checker.consumers")

# A check takes at most ~10 s of work, but may first wait for a free slot; the
# handler tells the broker it is still busy well before the ack wait runs out.
ACK_WAIT_SECONDS = 60.0
PROGRESS_EVERY_SECONDS = 20.0

NEW_LINKS = ConsumerSpec(
    "LINKS",
    "link-checker-new-links",
    (link_subject(EventType.LINK_ADDED.value),),
    ack_wait_seconds=ACK_WAIT_SECONDS,
    batch=1,
)
RECHECKS = ConsumerSpec(
    "LINK_CHECKS",
    "link-checker-rechecks",
    (CHECK_REQUEST_SUBJECT,),
    ack_wait_seconds=ACK_WAIT_SECONDS,
    batch=1,
)


def new_link_handler(service: LinkCheckerService) -> Handler:
    async def handle(msg: Msg) -> None:
        try:
            event = LinkEvent.model_validate_json(msg.data)
            request = CheckRequest(link_id=event.link_id, username=event.username, url=event.url)
        except ValidationError as exc:
            # It will never parse: acknowledge it rather than have it redelivered forever.
            log.error("dropping malformed link event", extra={"reason": str(exc)[:500]})
            return
        if event.event_type is not EventType.LINK_ADDED:
            return  # the subject filter already excludes these
        await _while_busy(msg, service.check_and_report(request))

    return handle


def recheck_handler(service: LinkCheckerService) -> Handler:
    async def handle(msg: Msg) -> None:
        try:
            request = CheckRequest.model_validate_json(msg.data)
        except ValidationError as exc:
            log.error("dropping malformed check request", extra={"reason": str(exc)[:500]})
            return
        await _while_busy(msg, service.check_and_report(request))

    return handle


async def _while_busy(msg: Msg, work: Awaitable[object]) -> None:
    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_SECONDS)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    beat = asyncio.create_task(heartbeat())
    try:
        await work
    finally:
        await cancel_and_wait(beat)


def start_consumers(
    service: LinkCheckerService, bus: EventBus, stop: asyncio.Event, workers: int
) -> list[asyncio.Task[None]]:
    tasks = []
    for spec, handler in ((NEW_LINKS, new_link_handler(service)), (RECHECKS, recheck_handler(service))):
        for i in range(workers):
            tasks.append(
                asyncio.create_task(run_consumer(bus, spec, handler, stop), name=f"{spec.durable}-{i}")
            )
    return tasks
