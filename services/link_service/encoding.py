"""The list response's and a save's JSON, written in one pass.

A page of Links through pydantic's serializer calls Python for every timestamp
(models.Timestamp's rfc3339), about 40% of link-manager's CPU for a 20-link page; this
writes the same bytes (tests/link/test_encoding.py compares them) with orjson.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from delinkcious.models import Link, LinkPage
from delinkcious.timeutil import rfc3339


def link_page_json(page: LinkPage) -> bytes:
    return orjson.dumps(
        {"links": [_link(link) for link in page.links], "next_page_token": page.next_page_token}
    )


def link_json(link: Link) -> bytes:
    return orjson.dumps(_link(link))


def _link(link: Link) -> dict[str, Any]:
    checked_at = link.checked_at
    return {
        "url": link.url,
        "title": link.title,
        "description": link.description,
        "tags": link.tags,
        "private": link.private,
        "status": link.status.value,
        "created_at": _time(link.created_at),
        "updated_at": _time(link.updated_at),
        "checked_at": None if checked_at is None else _time(checked_at),
    }


def _time(value: datetime) -> str:
    """rfc3339's text, the quick way for the times a Link holds (UTC, years from 1000)."""
    text = value.isoformat(timespec="microseconds")
    if value.year >= 1000 and text.endswith("+00:00"):
        return text[:-6] + "Z"
    return rfc3339(value)
