"""link-checker's business: check a link and publish the verdict. No HTTP, no NATS
consumer plumbing here; the transport and the consumers call `check_and_report`."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from delinkcious.errors import Unavailable
from delinkcious.events import CHECK_RESULT_SUBJECT
from delinkcious.metrics import LINK_CHECK_DURATION, LINK_CHECKS
from delinkcious.models import CheckRequest, LinkCheckResult
from delinkcious.timeutil import utcnow
from link_checker.checker import CheckOutcome

log = logging.getLogger("link_checker.service")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Check = Callable[[str], Awaitable[CheckOutcome]]


class Publisher(Protocol):
    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: dict[str, str] | None = None
    ) -> None: ...


class CheckReport(LinkCheckResult):
    """The published result plus why: what `POST /check` answers."""

    reason: str


def result_message_id(result: LinkCheckResult) -> str:
    """One id per check: a re-published copy of this result is dropped by the broker,
    while a later check of the same link is a new message."""
    micros = (result.checked_at - _EPOCH) // timedelta(microseconds=1)
    return f"check-{result.link_id}-{micros}"


class LinkCheckerService:
    def __init__(self, check: Check, publisher: Publisher, clock: Callable[[], datetime] = utcnow) -> None:
        self._check = check
        self._publisher = publisher
        self._clock = clock

    async def check_and_report(self, request: CheckRequest) -> CheckReport:
        started = time.perf_counter()
        outcome = await self._check(request.url)
        LINK_CHECK_DURATION.observe(time.perf_counter() - started)
        LINK_CHECKS.labels("blocked" if outcome.blocked else outcome.status.value).inc()
        result = LinkCheckResult(
            link_id=request.link_id,
            username=request.username,
            url=request.url,
            status=outcome.status,
            title=outcome.title,
            checked_at=self._clock(),
        )
        log.log(
            # A blocked URL may be someone probing the cluster: worth a warning.
            logging.WARNING if outcome.blocked else logging.INFO,
            "link checked",
            extra={
                "link_id": request.link_id,
                "url": request.url,
                "final_url": outcome.final_url,
                "status": outcome.status.value,
                "reason": outcome.reason,
            },
        )
        try:
            await self._publisher.publish(
                CHECK_RESULT_SUBJECT, result.model_dump_json().encode(), result_message_id(result)
            )
        except Exception as exc:
            raise Unavailable(f"could not publish the check result: {type(exc).__name__}: {exc}") from exc
        return CheckReport(**result.model_dump(), reason=outcome.reason)
