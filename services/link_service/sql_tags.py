"""Tag rename and delete on the SQL store: the statements for many links at once.

Called inside the store's transaction; the store records the returned events in the
outbox in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from delinkcious.models import EventType, LinkEvent
from link_service.store import retagged
from link_service.tables import link_tags, links

# Links per statement: well under SQLite's bound-parameter limit, few round trips.
CHUNK = 500


def chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def retag_links(s: Session, owner: str, old: str, new: str | None, now: datetime) -> list[LinkEvent]:
    """Every link of `owner` tagged `old` gets `new` instead (or loses `old`); returns
    one link_updated per changed link."""
    # Lock the tagged links in id order (after the owner's quota row, which the caller
    # holds, as every write of the owner's links does): a concurrent edit of these links
    # waits for this one, and the lock order is the same in each of them.
    tagged = sa.exists().where(link_tags.c.link_id == links.c.id, link_tags.c.tag == old)
    ids = list(
        s.execute(
            sa.select(links.c.id).where(links.c.owner == owner, tagged).order_by(links.c.id).with_for_update()
        ).scalars()
    )
    events: list[LinkEvent] = []
    for chunk in chunks(ids):
        # Read again now that they are locked: an edit that committed while this waited
        # is the state to change, and a link that lost the tag meanwhile is left alone.
        rows = s.execute(
            sa.select(links.c.id, links.c.url, links.c.title, links.c.private, links.c.tags)
            .where(links.c.id.in_(chunk))
            .order_by(links.c.id)
        ).all()
        current = [(row, json.loads(row.tags)) for row in rows]
        current = [(row, tags) for row, tags in current if old in tags]
        if not current:
            continue
        changed = [row.id for row, _ in current]
        new_tags = {row.id: json.dumps(retagged(tags, old, new)) for row, tags in current}
        s.execute(
            sa.update(links)
            .where(links.c.id.in_(changed))
            .values(tags=sa.case(new_tags, value=links.c.id), updated_at=now)
        )
        s.execute(sa.delete(link_tags).where(link_tags.c.link_id.in_(changed), link_tags.c.tag == old))
        if new is not None:
            # A link that has the new name already keeps its one row of it: the merge.
            lacking = [{"link_id": row.id, "tag": new} for row, tags in current if new not in tags]
            if lacking:
                s.execute(sa.insert(link_tags), lacking)
        events += [
            LinkEvent(
                event_id=str(uuid.uuid4()),
                event_type=EventType.LINK_UPDATED,
                link_id=row.id,
                username=owner,
                url=row.url,
                title=row.title,
                timestamp=now,
                private=row.private,
            )
            for row, _ in current
        ]
    return events


def count_tag(s: Session, owner: str, tag: str) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(link_tags.join(links, links.c.id == link_tags.c.link_id))
        .where(links.c.owner == owner, link_tags.c.tag == tag)
    )
    return int(s.execute(stmt).scalar_one())
