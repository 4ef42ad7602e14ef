"""link-manager's business rules. No HTTP here: the transport translates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from delinkcious.db import check_regex
from delinkcious.errors import InvalidArgument
from delinkcious.metrics import LINKS_CREATED, LINKS_DELETED, LINKS_UPDATED
from delinkcious.models import (
    Link,
    LinkCheckResult,
    LinkFilter,
    LinkPage,
    LinkUpdate,
    NewLink,
)
from delinkcious.pagination import PageTokenCodec
from delinkcious.timeutil import utcnow
from link_service.store import LinkChange, LinkQuery, LinkStore, pending_link


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
        before_id = self._codec.decode(start_token, query_key) if start_token else None
        if before_id is not None and not isinstance(before_id, int):
            raise InvalidArgument("start_token is not a valid page token")
        found = self._store.find(
            LinkQuery(
                owner=owner,
                url_regex=filters.url_regex,
                title_regex=filters.title_regex,
                description_regex=filters.description_regex,
                tags=tuple(filters.tags),
                before_id=before_id,
                limit=page_size + 1,
            )
        )
        page, more = found[:page_size], len(found) > page_size
        token = self._codec.encode(page[-1].id, query_key) if more else ""
        return LinkPage(links=[s.link for s in page], next_page_token=token)

    def add_link(self, owner: str, new: NewLink) -> Link:
        link = pending_link(new.url, new.title, new.description, new.tags, self._clock())
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
        return self._store.apply_check(result)
