"""The list response's and a save's own encoders write what pydantic's serializer would, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from delinkcious.models import Link, LinkPage, LinkStatus
from link_service.encoding import link_json, link_page_json

AT = datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC)


def link(**overrides: object) -> Link:
    values: dict[str, object] = {
        "url": "https://example.com/a?b=c&d=é",
        "title": 'a "quoted" title\twith\ncontrol \x01 chars, \\ and ☃ 𝄞',
        "description": "\u2028\u2029</script>",
        "tags": ["x", "ünï", "a/b"],
        "private": True,
        "status": LinkStatus.VALID,
        "created_at": AT,
        "updated_at": AT + timedelta(seconds=1),
        "checked_at": AT + timedelta(days=1),
    }
    return Link.model_validate(values | overrides)


EXAMPLES = [
    [],
    [link()],
    [link(checked_at=None, status=LinkStatus.PENDING, private=False, tags=[], title="", description="")],
    # No microseconds (isoformat would drop them), another zone, years before 1000.
    [link(created_at=AT.replace(microsecond=0))],
    [link(created_at=AT.astimezone(timezone(timedelta(hours=-7))))],
    [link(created_at=datetime(5, 1, 1, tzinfo=UTC)), link(created_at=datetime(999, 12, 31, tzinfo=UTC))],
    [link(created_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))],
]


@pytest.mark.parametrize("links", EXAMPLES)
@pytest.mark.parametrize("token", ["", "abc_-123"])
def test_a_page_encodes_as_pydantic_would(links: list[Link], token: str) -> None:
    page = LinkPage(links=links, next_page_token=token)
    assert link_page_json(page) == page.model_dump_json().encode()


@pytest.mark.parametrize("one", [links[0] for links in EXAMPLES if links])
def test_a_link_encodes_as_pydantic_would(one: Link) -> None:
    assert link_json(one) == one.model_dump_json().encode()
