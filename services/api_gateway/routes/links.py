"""/v1/links: a user's own links."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api_gateway.deps import Links, ListCacheDep, ListingUser, User
from api_gateway.docs import AUTHED, errors
from api_gateway.forward import Forwarded
from delinkcious.models import Link, LinkListQuery, LinkPage, LinkUpdate, NewLink, Url

router = APIRouter(prefix="/v1/links", tags=["links"])


@router.get("", response_model=LinkPage, responses=errors(*AUTHED), summary="List your links, newest first")
async def list_links(
    user: ListingUser, query: Annotated[LinkListQuery, Query()], links: Links, cache: ListCacheDep
) -> Response:
    """Newest `created_at` first (ties: last saved first). Regex filters match
    case-insensitively anywhere in the field; every `tag` given must be on the link;
    `private` keeps only private (`true`) or public (`false`) links. Page with
    `next_page_token` until it is empty.

    Every change you make shows in the next list, through any gateway replica. A
    re-check's verdict on a link already checked may take up to `LIST_CACHE_SECONDS`
    (2 s by default) to show: pages are kept that long."""

    def fetch() -> Awaitable[bytes]:
        return links.list_links_json(user.username, query.filters(), query.page_size, query.start_token)

    return Forwarded(await cache.page(user, query.cache_key(), fetch))


@router.post("", status_code=201, responses=errors(*AUTHED, 409), summary="Save a link")
async def add_link(user: User, body: NewLink, links: Links) -> Link:
    """The link starts `pending`; the link checker then marks it `valid` or `invalid`
    and fills an empty title from the page. A `private` link's events reach nobody's
    news."""
    return await links.add_link(user, body)


@router.put("", responses=errors(*AUTHED, 404), summary="Update a link")
async def update_link(user: User, body: LinkUpdate, links: Links) -> Link:
    """Omitted fields stay as they are. A tag may not be both added and removed.
    Making a link public emits a `link_updated` its owner's followers get; making it
    private removes nothing already delivered."""
    return await links.update_link(user, body)


@router.delete("", status_code=204, responses=errors(*AUTHED, 404), summary="Delete a link")
async def delete_link(
    user: User, url: Annotated[Url, Query(description="The link's url")], links: Links
) -> Response:
    await links.delete_link(user, url)
    return Response(status_code=204)
