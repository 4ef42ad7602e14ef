"""Link events from the bus into followers' feeds: a durable JetStream consumer that
acknowledges an event only once every follower's feed has it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from nats.aio.msg import Msg
from pydantic import ValidationError

from delinkcious.errors import InvalidArgument
from delinkcious.events import ConsumerSpec, EventBus, Handler, link_subject, run_consumer
from delinkcious.metrics import FANOUT_DURATION, FANOUT_FOLLOWERS
from delinkcious.models import LinkEvent
from news_service.service import NewsService

log = logging.getLogger("news_service.consumer")

# A fan-out to a very large following can outlast the ack wait; the handler renews the
# message's lease after every page of followers, so the wait only bounds a stuck one,
# and is short so that messages a killed instance had pulled come back soon.
# Feeds are sorted by the event's time and adding an event is idempotent, so events can
# be fanned out concurrently: an import's thousands of events then hold up other users'
# news far less.
LINK_EVENTS = ConsumerSpec(
    "LINKS", "news-manager", (link_subject(">"),), ack_wait_seconds=15, concurrent=True
)


def link_event_handler(service: NewsService) -> Handler:
    async def handle(msg: Msg) -> None:
        try:
            event = LinkEvent.model_validate_json(msg.data)
        except ValidationError as exc:
            # It will never parse: log it and let it be acknowledged rather than
            # redelivered forever.
            log.error(
                "dropping malformed link event", extra={"subject": msg.subject, "reason": str(exc)[:500]}
            )
            return

        async def renew_lease() -> None:
            with contextlib.suppress(Exception):  # a lost renewal only risks a redelivery
                await msg.in_progress()

        started = time.perf_counter()
        try:
            reached = await service.fan_out(event, progress=renew_lease)
        except InvalidArgument as exc:
            log.error(
                "dropping undeliverable link event",
                extra={"event_id": event.event_id, "reason": exc.message},
            )
            return
        FANOUT_DURATION.observe(time.perf_counter() - started)
        FANOUT_FOLLOWERS.observe(reached)
        log.info(
            "link event delivered",
            extra={"event_id": event.event_id, "event_type": event.event_type.value, "followers": reached},
        )

    return handle


async def run_link_events(
    service: NewsService, bus: EventBus, stop: asyncio.Event, *, retry_delay: float = 1.0
) -> None:
    await run_consumer(bus, LINK_EVENTS, link_event_handler(service), stop, retry_delay=retry_delay)
