"""Rows of the links table as StoredLinks: the columns every read selects, and the
mapping, which is on every list request's path and so kept cheap."""

from __future__ import annotations

import json
from typing import Any

from delinkcious.models import Link, LinkStatus
from link_service.store import StoredLink
from link_service.tables import links

LINK_COLUMNS = (
    links.c.id,
    links.c.owner,
    links.c.url,
    links.c.title,
    links.c.description,
    links.c.tags,
    links.c.private,
    links.c.status,
    links.c.created_at,
    links.c.updated_at,
    links.c.checked_at,
)

_ALL_FIELDS = frozenset(Link.model_fields)  # copied per Link: model_copy adds to it
_STATUSES = {status.value: status for status in LinkStatus}


def stored(row: Any) -> StoredLink:
    """A row as it was written: every value passed Link's validation on its way in, and
    UTCDateTime hands the times back in UTC. So the Link is assembled without running
    the validators again, which cost several times the rest of a list request's
    mapping (tests/link/test_sql_rows.py checks it equals the validated Link)."""
    return StoredLink(
        id=row.id,
        owner=row.owner,
        link=_unvalidated_link(
            {
                "url": row.url,
                "title": row.title,
                "description": row.description,
                "tags": json.loads(row.tags),
                "private": bool(row.private),
                "status": _STATUSES[row.status],
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "checked_at": row.checked_at,
            }
        ),
    )


def _unvalidated_link(values: dict[str, Any]) -> Link:
    # What pydantic's model_construct does, minus its per-field defaults and alias
    # handling, which a row with every field never needs.
    link = Link.__new__(Link)
    object.__setattr__(link, "__dict__", values)
    object.__setattr__(link, "__pydantic_fields_set__", set(_ALL_FIELDS))
    object.__setattr__(link, "__pydantic_extra__", None)
    object.__setattr__(link, "__pydantic_private__", None)
    return link


def link_row(owner: str, link: Link) -> dict[str, Any]:
    """A link as the parameters of an insert into the links table (a save, an import)."""
    return {
        "owner": owner,
        "url": link.url,
        "title": link.title,
        "description": link.description,
        "tags": json.dumps(link.tags),
        "private": link.private,
        "status": link.status.value,
        "created_at": link.created_at,
        "updated_at": link.updated_at,
        "checked_at": link.checked_at,
    }
