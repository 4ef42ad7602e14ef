"""SQL for bulk import: one transaction per batch, holding the owner's quota row, with
one lookup of the batch's urls and multi-row statements for what changes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from delinkcious import tracing
from delinkcious.db import transaction
from delinkcious.errors import Unavailable
from link_service import sql_store
from link_service.bulk import ImportItem, Outcome, plan_batch
from link_service.sql_rows import LINK_COLUMNS, link_row, stored
from link_service.store import StoredLink, new_event
from link_service.tables import link_quota, link_tags, links, outbox

_ATTEMPTS = 3


def import_batch(
    sessions: sessionmaker[Session], owner: str, items: Sequence[ImportItem], max_links: int, now: datetime
) -> list[Outcome | str]:
    for _ in range(_ATTEMPTS):
        try:
            with transaction(sessions) as s:
                return _write_batch(s, owner, items, max_links, now)
        except IntegrityError:
            # A concurrent add saved one of these urls after our lookup; the batch
            # rolled back whole, and the next attempt sees that link.
            continue
    raise Unavailable("the import kept colliding with concurrent changes; import the file again")


def _write_batch(
    s: Session, owner: str, items: Sequence[ImportItem], max_links: int, now: datetime
) -> list[Outcome | str]:
    s.execute(sql_store._insert(s, link_quota).values(owner=owner, link_count=0).on_conflict_do_nothing())
    # Taking the quota row first serialises this batch with the owner's other adds.
    count = s.execute(
        sa.select(link_quota.c.link_count).where(link_quota.c.owner == owner).with_for_update()
    ).scalar_one()
    urls = sorted({item.url for item in items})
    rows = s.execute(
        sa.select(*LINK_COLUMNS).where(links.c.owner == owner, links.c.url.in_(urls)).with_for_update()
    )
    existing = {row.url: stored(row) for row in rows}
    plan = plan_batch(items, existing, max_links - count, max_links, now)

    ids = {url: link.id for url, link in existing.items()}
    if plan.created:
        new_ids = s.execute(
            sa.insert(links).returning(links.c.id, sort_by_parameter_order=True),
            [link_row(owner, link) for link in plan.created.values()],
        ).scalars()
        ids.update(zip(plan.created, new_ids, strict=True))
        _add_tags(s, [(ids[url], link.tags) for url, link in plan.created.items()])
        s.execute(
            sa.update(link_quota)
            .where(link_quota.c.owner == owner)
            .values(link_count=link_quota.c.link_count + len(plan.created))
        )
    if plan.updated:
        s.execute(
            sa.update(links)
            .where(links.c.id == sa.bindparam("link_id"))
            .values(
                title=sa.bindparam("new_title"),
                description=sa.bindparam("new_description"),
                tags=sa.bindparam("new_tags"),
                updated_at=sa.bindparam("new_updated_at"),
            ),
            [
                {
                    "link_id": ids[url],
                    "new_title": link.title,
                    "new_description": link.description,
                    "new_tags": json.dumps(link.tags),
                    "new_updated_at": link.updated_at,
                }
                for url, link in plan.updated.items()
            ],
        )
        # A merge only adds tags.
        _add_tags(
            s,
            [
                (ids[url], sorted(set(link.tags) - set(existing[url].link.tags)))
                for url, link in plan.updated.items()
            ],
        )
    if plan.events:
        context = tracing.capture()
        events = [new_event(kind, StoredLink(ids[link.url], owner, link), now) for kind, link in plan.events]
        s.execute(sa.insert(outbox), [_outbox_row(event, context) for event in events])
        sql_store.mark_changed(s, events)
    return plan.outcomes


def _add_tags(s: Session, tags_by_id: list[tuple[int, list[str]]]) -> None:
    rows = [{"link_id": link_id, "tag": tag} for link_id, tags in tags_by_id for tag in tags]
    if rows:
        s.execute(sa.insert(link_tags), rows)


def _outbox_row(event: Any, trace_context: str | None) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type.value,
        "link_id": event.link_id,
        "owner": event.username,
        "url": event.url,
        "title": event.title,
        "occurred_at": event.timestamp,
        "private": event.private,
        "trace_context": trace_context,
    }
