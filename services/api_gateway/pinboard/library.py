"""Reading a user's links for the Pinboard methods, through link-manager's own listing
(newest first, filtered by tags there), so privacy and ordering rules stay in one place."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import cast

from delinkcious.clients.link import LinkClient
from delinkcious.errors import NotFound
from delinkcious.models import MAX_PAGE_SIZE, Link, LinkFilter


async def newest_first(
    links: LinkClient, username: str, tags: list[str] | None = None
) -> AsyncGenerator[Link, None]:
    """Every link (with all of `tags`), newest first. Without tags it is link-manager's
    export, one streamed call; callers that stop early close it (contextlib.aclosing)."""
    if not tags:
        # export_links is an async generator; typed as an iterator, so said here.
        export = cast(AsyncGenerator[Link, None], links.export_links(username))
        async with aclosing(export) as stream:
            async for link in stream:
                yield link
        return
    token = ""
    while True:
        page = await links.list_links(username, LinkFilter(tags=tags or []), MAX_PAGE_SIZE, token)
        for link in page.links:
            yield link
        token = page.next_page_token
        if not token:
            return


async def recent(links: LinkClient, username: str, tags: list[str], count: int) -> list[Link]:
    if count <= 0:
        return []
    page = await links.list_links(username, LinkFilter(tags=tags), min(count, MAX_PAGE_SIZE))
    return page.links


async def find(links: LinkClient, username: str, url: str) -> Link | None:
    try:
        return await links.get_link(username, url)
    except NotFound:
        return None
