"""/feeds/news.atom and /feeds/links.atom: a user's news and own links for feed readers,
which can send only a URL, hence `?token=`. Any token of the user works (a feeds-scope
one is meant for this). `ETag` and `Last-Modified` let readers poll for a 304."""

from __future__ import annotations

import hashlib
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from api_gateway.auth import FeedReader
from api_gateway.deps import Links, News
from api_gateway.docs import errors
from api_gateway.feeds.atom import MEDIA_TYPE, Feed, links_feed, news_feed
from api_gateway.settings import GatewaySettings
from delinkcious.models import LinkFilter

FEED_LENGTH = 50
router = APIRouter(prefix="/feeds", tags=["feeds"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "An Atom 1.0 feed", "content": {MEDIA_TYPE: {"schema": {"type": "string"}}}},
    304: {"description": "Not modified since the `ETag` or `Last-Modified` the reader sent"},
    **errors(401, 429, 503),
}


def _base_url(request: Request) -> str:
    settings: GatewaySettings = request.app.state.settings
    return settings.public_url


def _not_modified(request: Request, etag: str, feed: Feed) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        # RFC 9110: If-None-Match wins over If-Modified-Since; compared weakly.
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if moment.tzinfo is None:
        return False
    return feed.updated.replace(microsecond=0) <= moment


def _answer(request: Request, feed: Feed) -> Response:
    body = feed.to_xml()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(feed.updated, usegmt=True),
        # Each user's own: shared caches must not keep it; readers revalidate each time.
        "Cache-Control": "private, no-cache",
    }
    if _not_modified(request, etag, feed):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)


@router.get("/news.atom", response_class=Response, responses=_RESPONSES, summary="Your news as an Atom feed")
async def news_atom(request: Request, username: FeedReader, news: News) -> Response:
    """The newest 50 events of your news: one entry each, linking to the link."""
    page = await news.get_news(username, FEED_LENGTH)
    return _answer(request, news_feed(_base_url(request), username, page.events))


@router.get(
    "/links.atom", response_class=Response, responses=_RESPONSES, summary="Your own links as an Atom feed"
)
async def links_atom(request: Request, username: FeedReader, links: Links) -> Response:
    """Your newest 50 links, private ones included: the feed is yours alone."""
    page = await links.list_links(username, LinkFilter(), FEED_LENGTH)
    return _answer(request, links_feed(_base_url(request), username, page.links))
