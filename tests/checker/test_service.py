"""check_and_report without a broker: what is published, under which id, what is logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from delinkcious.errors import Unavailable
from delinkcious.events import CHECK_RESULT_SUBJECT
from delinkcious.models import CheckRequest, LinkCheckResult, LinkStatus
from link_checker.checker import CheckOutcome
from link_checker.service import LinkCheckerService

REQUEST = CheckRequest(link_id=42, username="carol", url="http://10.0.0.1/")
BLOCKED = CheckOutcome(
    LinkStatus.INVALID, None, "blocked address 10.0.0.1 (private)", REQUEST.url, blocked=True
)


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.published: list[tuple[str, bytes, str]] = []
        self.fail = fail

    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: dict[str, str] | None = None
    ) -> None:
        if self.fail:
            raise ConnectionError("not connected to NATS")
        self.published.append((subject, payload, msg_id))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


async def _blocked(url: str) -> CheckOutcome:
    return BLOCKED


async def test_each_check_publishes_one_result_with_its_own_id(caplog: pytest.LogCaptureFixture) -> None:
    publisher = Recorder()
    service = LinkCheckerService(_blocked, publisher, clock=Clock())
    with caplog.at_level(logging.INFO, logger="link_checker.service"):
        first = await service.check_and_report(REQUEST)
        await service.check_and_report(REQUEST)
    assert (first.status, first.reason, first.checked_at) == (
        LinkStatus.INVALID,
        BLOCKED.reason,
        datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC),
    )
    (subject, payload, msg_id), (_, _, second_id) = publisher.published
    assert subject == CHECK_RESULT_SUBJECT
    assert LinkCheckResult.model_validate_json(payload) == LinkCheckResult(
        link_id=42, username="carol", url=REQUEST.url, status=LinkStatus.INVALID, checked_at=first.checked_at
    )
    assert msg_id == f"check-42-{int(first.checked_at.timestamp()) * 1_000_000 + 1}" != second_id
    [record, _] = caplog.records
    assert record.levelno == logging.WARNING and record.reason == BLOCKED.reason  # type: ignore[attr-defined]


async def test_an_unpublished_result_is_unavailable() -> None:
    service = LinkCheckerService(_blocked, Recorder(fail=True))
    with pytest.raises(Unavailable, match="could not publish"):
        await service.check_and_report(REQUEST)
