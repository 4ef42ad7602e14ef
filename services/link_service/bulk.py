"""Bulk import: every entry checked alone, merged with what the user already has, and
written in batches (one transaction and one lookup of existing urls per batch).

Merge rules (api.md): an entry whose url the user has adds its tags and fills an empty
title or description; it is `updated` if that changed the link, else `unchanged`. A url
repeated in the same import merges the same way. New links past MAX_LINKS_PER_USER fail.
The planning here is pure; the stores load the batch's links, plan, and write the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from delinkcious.bookmarks import MAX_LISTED_ERRORS, ImportEntry, ImportFailure, ImportResult
from delinkcious.metrics import LINKS_CREATED, LINKS_UPDATED
from delinkcious.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_TAGS,
    MAX_TITLE_LENGTH,
    EventType,
    Link,
    check_url,
    no_nul,
    normalize_tags,
)
from link_service.store import StoredLink, pending_link

# Small enough that a batch holds the user's quota row (and SQLite's write lock) only
# briefly, so other writers get in between batches; large enough to amortise a commit.
BATCH_SIZE = 250


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class ImportItem:
    """An entry that passed the checks every link passes."""

    url: str
    title: str
    description: str
    tags: tuple[str, ...]
    private: bool
    created_at: datetime | None


def check_entry(entry: ImportEntry, private: bool | None) -> ImportItem:
    """ValueError, with a message for a person, when the entry cannot be a link."""
    url = check_url(entry.url)
    title = _checked_text("title", entry.title.strip(), MAX_TITLE_LENGTH)
    description = _checked_text("description", entry.description, MAX_DESCRIPTION_LENGTH)
    return ImportItem(
        url=url,
        title=title,
        description=description,
        tags=tuple(normalize_tags(entry.tags)),
        private=private if private is not None else bool(entry.private),
        created_at=entry.created_at,
    )


def _checked_text(name: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    try:
        return no_nul(value)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None


@dataclass
class BatchPlan:
    """What one batch writes. Links are keyed by url; `events` are in entry order, each
    with the link as it was right after that change."""

    outcomes: list[Outcome | str] = field(default_factory=list)  # a str is a failure
    created: dict[str, Link] = field(default_factory=dict)
    updated: dict[str, Link] = field(default_factory=dict)
    events: list[tuple[EventType, Link]] = field(default_factory=list)


def plan_batch(
    items: Sequence[ImportItem], existing: Mapping[str, StoredLink], room: int, max_links: int, now: datetime
) -> BatchPlan:
    """`existing`: the owner's links among the items' urls; `room`: how many links the
    owner may still add."""
    plan = BatchPlan()
    for item in items:
        current = plan.created.get(item.url) or plan.updated.get(item.url)
        if current is None and item.url in existing:
            current = existing[item.url].link
        if current is None:
            if len(plan.created) >= room:
                plan.outcomes.append(f"a user has at most {max_links} links: this entry is past the limit")
                continue
            link = pending_link(
                item.url,
                item.title,
                item.description,
                list(item.tags),
                now,
                private=item.private,
                created_at=item.created_at,
            )
            plan.created[item.url] = link
            plan.events.append((EventType.LINK_ADDED, link))
            plan.outcomes.append(Outcome.CREATED)
            continue
        try:
            merged = _merged(current, item, now)
        except ValueError as exc:
            plan.outcomes.append(str(exc))
            continue
        if merged is None:
            plan.outcomes.append(Outcome.UNCHANGED)
            continue
        (plan.created if item.url in plan.created else plan.updated)[item.url] = merged
        plan.events.append((EventType.LINK_UPDATED, merged))
        plan.outcomes.append(Outcome.UPDATED)
    return plan


def _merged(link: Link, item: ImportItem, now: datetime) -> Link | None:
    """The link with the entry's tags added and its empty fields filled; None if that
    changes nothing."""
    tags = set(link.tags) | set(item.tags)
    title = link.title or item.title
    description = link.description or item.description
    if len(tags) == len(link.tags) and title == link.title and description == link.description:
        return None
    if len(tags) > MAX_TAGS:
        raise ValueError(f"with this entry's tags the link would have more than {MAX_TAGS} tags")
    return link.model_copy(
        update={"tags": sorted(tags), "title": title, "description": description, "updated_at": now}
    )


ImportBatch = Callable[[str, Sequence[ImportItem], int, datetime], list[Outcome | str]]


def run_import(
    import_batch: ImportBatch,
    owner: str,
    entries: Sequence[ImportEntry],
    private: bool | None,
    max_links: int,
    clock: Callable[[], datetime],
    after_batch: Callable[[], None] = lambda: None,
) -> ImportResult:
    """Checks every entry, hands the good ones to the store a batch at a time, and sums
    up. `after_batch` runs once each batch is committed (it wakes the outbox relay, so
    followers see an import while it runs)."""
    result = ImportResult(total=len(entries))
    failures: list[tuple[int, str, str]] = []
    batch: list[tuple[int, ImportItem]] = []

    def flush() -> None:
        outcomes = import_batch(owner, [item for _, item in batch], max_links, clock())
        for (index, item), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Outcome):
                setattr(result, outcome.value, getattr(result, outcome.value) + 1)
            else:
                failures.append((index, item.url, outcome))
        batch.clear()
        after_batch()

    for index, entry in enumerate(entries):
        try:
            batch.append((index, check_entry(entry, private)))
        except ValueError as exc:
            failures.append((index, entry.url, str(exc)))
        if len(batch) == BATCH_SIZE:
            flush()
    if batch:
        flush()
    failures.sort()
    result.failed = len(failures)
    result.errors = [ImportFailure(url=url, message=msg) for _, url, msg in failures[:MAX_LISTED_ERRORS]]
    LINKS_CREATED.inc(result.created)
    LINKS_UPDATED.inc(result.updated)
    return result
