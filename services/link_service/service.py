"""link-manager's business rules. No HTTP here: the transport translates."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from delinkcious.bookmarks import ImportEntry, ImportResult
from delinkcious.db import check_regex
from delinkcious.errors import InvalidArgument, NotFound
from delinkcious.metrics import LINKS_CREATED, LINKS_DELETED, LINKS_UPDATED
from delinkcious.models import (
    DatedNewLink,
    LastChange,
    Link,
    LinkCheckResult,
    LinkFilter,
    LinkPage,
    LinkUpdate,
    NewLink,
    TagCount,
    TagList,
    normalize_tag,
)
from delinkcious.pagination import PageTokenCodec, parse_time_position, time_position
from delinkcious.timeutil import utcnow
from link_service import bulk
from link_service.store import LinkChange, LinkQuery, LinkStore, pending_link

EXPORT_BATCH = 500


class LinkService:
    def __init__(
        self,
        store: LinkStore,
        codec: PageTokenCodec,
        max_links_per_user: int,
        clock: Callable[[], datetime] = utcnow,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._on_change = on_change  # wakes the outbox relay
        self._codec = codec
        self._max_links = max_links_per_user
        self._clock = clock

    def list_links(self, owner: str, filters: LinkFilter, page_size: int, start_token: str = "") -> LinkPage:
        for field in ("url_regex", "title_regex", "description_regex"):
            pattern = getattr(filters, field)
            if pattern is not None:
                check_regex(pattern, field)
        # The token is bound to this user and these filters: reused elsewhere, it is a 400.
        query_key = {"owner": owner, **filters.model_dump()}
        after = parse_time_position(self._codec.decode(start_token, query_key)) if start_token else None
        found = self._store.find(
            LinkQuery(
                owner=owner,
                url_regex=filters.url_regex,
                title_regex=filters.title_regex,
                description_regex=filters.description_regex,
                tags=tuple(filters.tags),
                private=filters.private,
                after=after,
                limit=page_size + 1,
            )
        )
        page, more = found[:page_size], len(found) > page_size
        last = page[-1] if more else None
        token = self._codec.encode(time_position(last.link.created_at, last.id), query_key) if last else ""
        return LinkPage(links=[s.link for s in page], next_page_token=token)

    def get_link(self, owner: str, url: str) -> Link:
        stored = self._store.get(owner, url)
        if stored is None:
            raise NotFound(f"no link with url {url}")
        return stored.link

    def add_link(self, owner: str, new: NewLink) -> Link:
        """Saves a new link now; a DatedNewLink may say it was created earlier (or later)."""
        created_at = new.created_at if isinstance(new, DatedNewLink) else None
        link = pending_link(
            new.url,
            new.title,
            new.description,
            new.tags,
            self._clock(),
            private=new.private,
            created_at=created_at,
        )
        stored = self._store.add(owner, link, self._max_links)
        LINKS_CREATED.inc()
        self._on_change()
        return stored.link

    def update_link(self, owner: str, update: LinkUpdate) -> Link:
        both = set(update.add_tags) & set(update.remove_tags)
        if both:
            raise InvalidArgument(f"tags both added and removed: {', '.join(sorted(both))}")
        change = LinkChange(
            title=update.title,
            description=update.description,
            add_tags=tuple(update.add_tags),
            remove_tags=tuple(update.remove_tags),
            private=update.private,
        )
        stored = self._store.update(owner, update.url, change, self._clock())
        LINKS_UPDATED.inc()
        self._on_change()
        return stored.link

    def delete_link(self, owner: str, url: str) -> None:
        self._store.delete(owner, url, self._clock())
        LINKS_DELETED.inc()
        self._on_change()

    def apply_check(self, result: LinkCheckResult) -> bool:
        return self._store.apply_check(result, self._clock())

    # ------------------------------------------------------------------ tags

    def last_change(self, owner: str) -> LastChange:
        return LastChange(changed_at=self._store.last_change(owner))

    def list_tags(self, owner: str) -> TagList:
        return TagList(tags=self._store.tag_counts(owner))

    def rename_tag(self, owner: str, old: str, new: str) -> TagCount:
        """Every link tagged `old` is tagged `new` instead (merging where it has both).
        NotFound when no link has `old`. Renaming a tag to itself changes nothing."""
        old, new = _tag(old, "tag"), _tag(new, "name")
        if old == new:
            count = next((t.count for t in self._store.tag_counts(owner) if t.name == old), 0)
            if count == 0:
                raise NotFound(f"no link has the tag {old}")
            return TagCount(name=new, count=count)
        done = self._store.retag(owner, old, new, self._clock())
        self._changed(done.changed, old)
        return TagCount(name=new, count=done.carrying_new)

    def delete_tag(self, owner: str, name: str) -> None:
        """Removes the tag from every link that has it; NotFound when none does."""
        name = _tag(name, "tag")
        self._changed(self._store.retag(owner, name, None, self._clock()).changed, name)

    def _changed(self, links: int, tag: str) -> None:
        if links == 0:
            raise NotFound(f"no link has the tag {tag}")
        LINKS_UPDATED.inc(links)
        self._on_change()

    # ---------------------------------------------------------------- import and export

    def import_links(self, owner: str, entries: Sequence[ImportEntry], private: bool | None) -> ImportResult:
        """`private` True or False overrides every entry's own flag."""
        return bulk.run_import(
            self._store.import_batch, owner, entries, private, self._max_links, self._clock, self._on_change
        )

    def export_links(self, owner: str) -> Iterator[Link]:
        """Every link of the owner, newest first, read a batch at a time (keyset), so a
        link added or deleted meanwhile is neither repeated nor makes another skipped."""
        after: tuple[datetime, int] | None = None
        while True:
            found = self._store.find(LinkQuery(owner=owner, after=after, limit=EXPORT_BATCH))
            for stored in found:
                yield stored.link
            if len(found) < EXPORT_BATCH:
                return
            after = (found[-1].link.created_at, found[-1].id)


def _tag(value: str, field: str) -> str:
    try:
        return normalize_tag(value)
    except ValueError as exc:
        raise InvalidArgument(f"{field}: {exc}") from None
