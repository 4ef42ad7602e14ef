"""posts/*: each method translated to link-manager calls. Validation, limits, events and
privacy are link-manager's; here only Pinboard's names and defaults become ours."""

from __future__ import annotations

import re
from collections import Counter
from contextlib import aclosing
from datetime import date, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from api_gateway.pinboard import library
from api_gateway.pinboard.auth import Call
from api_gateway.pinboard.formats import (
    EPOCH,
    TOREAD,
    AllPosts,
    PostDates,
    PostList,
    ResultCode,
    Suggestions,
    UpdateTime,
)
from delinkcious.errors import AlreadyExists, InvalidArgument, NotFound
from delinkcious.models import MAX_REGEX_LENGTH, Link, LinkFilter, LinkUpdate, NewLink
from delinkcious.timeutil import utcnow

DEFAULT_RECENT = 15
MAX_RECENT = 100
# Pinboard resets a creation time more than ten minutes ahead of its clock to now.
FUTURE_SLACK = timedelta(minutes=10)
MAX_SUGGESTIONS = 10

M = TypeVar("M", NewLink, LinkUpdate)


def _valid(model: type[M], **fields: object) -> M:
    """The shared models' validation, its first complaint as the result code."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        raise InvalidArgument(f"{where}: {message}" if where else message) from None


async def update(call: Call) -> UpdateTime:
    """The newest add, change or delete of a bookmark, as clients poll it to know
    whether to download their bookmarks again."""
    return UpdateTime(await call.links.last_change(call.username) or EPOCH)


async def add(call: Call) -> ResultCode:
    params = call.params
    url = params.required("url")
    tags = params.tags("tags", "tag")
    if params.yes_no("toread", False):
        tags.append(TOREAD)
    shared = params.yes_no("shared", None)
    replace = params.yes_no("replace", True)
    created_at = params.datetime("dt")
    if created_at is not None and created_at > utcnow() + FUTURE_SLACK:
        created_at = None
    new = _valid(
        NewLink,
        url=url,
        title=params.get("description") or "",
        description=params.get("extended") or "",
        tags=tags,
        private=shared is False,
    )
    try:
        await call.links.add_link(call.username, new, created_at=created_at)
    except AlreadyExists:
        if not replace:
            raise
        await _replace(call, new, title_given=params.given("description"), shared=shared)
    return ResultCode("done")


async def _replace(call: Call, new: NewLink, *, title_given: bool, shared: bool | None) -> None:
    """Pinboard's replace=yes overwrites the bookmark with what the call gave. A call that
    leaves out the title or `shared` keeps the link's own: a client that never sends
    `shared` must not make a private link public."""
    current = await library.find(call.links, call.username, new.url)
    if current is None:
        raise NotFound("item not found")  # deleted between the two calls
    wanted, have = set(new.tags), set(current.tags)
    change = _valid(
        LinkUpdate,
        url=current.url,
        title=new.title if title_given else None,
        description=new.description,
        add_tags=sorted(wanted - have),
        remove_tags=sorted(have - wanted),
        private=None if shared is None else not shared,
    )
    unchanged = (
        not change.add_tags
        and not change.remove_tags
        and change.title in (None, current.title)
        and change.description == current.description
        and change.private in (None, current.private)
    )
    if unchanged:  # a client re-sending what it has: no update, so no news event either
        return
    await call.links.update_link(call.username, change)


async def delete(call: Call) -> ResultCode:
    await call.links.delete_link(call.username, call.params.required("url"))
    return ResultCode("done")


async def get(call: Call) -> PostList:
    """One day's bookmarks (`dt`, else the day of the newest), or the one of `url`."""
    params = call.params
    tags = params.filter_tags()
    day = params.date("dt")
    with_meta = bool(params.yes_no("meta", False))
    url = params.get("url")
    found: list[Link] = []
    if url is not None and url.strip():
        link = await library.find(call.links, call.username, url.strip())
        if link is not None and set(tags) <= set(link.tags):
            found = [link]
            day = link.created_at.date()
    else:
        async with aclosing(library.newest_first(call.links, call.username, tags)) as links:
            async for link in links:
                created = link.created_at.date()
                day = day or created
                if created < day:
                    break
                if created == day:
                    found.append(link)
    day = day or utcnow().date()
    time = found[0].created_at if found else utcnow()
    return PostList(call.username, " ".join(tags), time, found, with_meta, day=day)


async def recent(call: Call) -> PostList:
    params = call.params
    tags = params.filter_tags()
    count = min(params.integer("count", DEFAULT_RECENT) or 0, MAX_RECENT)
    found = await library.recent(call.links, call.username, tags, count)
    time = found[0].created_at if found else utcnow()
    return PostList(call.username, " ".join(tags), time, found)


async def dates(call: Call) -> PostDates:
    tags = call.params.filter_tags()
    counts: Counter[date] = Counter()
    async with aclosing(library.newest_first(call.links, call.username, tags)) as links:
        async for link in links:
            counts[link.created_at.date()] += 1
    ordered = dict(sorted(counts.items(), reverse=True))
    return PostDates(call.username, " ".join(tags), ordered)


async def all_posts(call: Call) -> AllPosts:
    params = call.params
    tags = params.filter_tags()
    start = params.integer("start", 0) or 0
    results = params.integer("results", None)
    since, until = params.datetime("fromdt"), params.datetime("todt")
    with_meta = bool(params.yes_no("meta", False))
    found: list[Link] = []
    seen = 0
    if results != 0:
        async with aclosing(library.newest_first(call.links, call.username, tags)) as links:
            async for link in links:
                if since is not None and link.created_at < since:
                    break  # newest first: everything after is older still
                if until is not None and link.created_at > until:
                    continue
                seen += 1
                if seen <= start:
                    continue
                found.append(link)
                if results is not None and len(found) >= results:
                    break
    return AllPosts(call.username, " ".join(tags), found, with_meta)


async def suggest(call: Call) -> Suggestions:
    """Nobody else's links are read, so `popular` stays empty; `recommended` is the
    link's own tags, then the tags most used on the same site."""
    url = call.params.required("url").strip()
    recommended: list[str] = []
    own = await library.find(call.links, call.username, url)
    if own is not None:
        recommended += own.tags
    host = urlsplit(url).hostname
    pattern = f"^https?://{re.escape(host)}([:/?#]|$)" if host else ""
    if pattern and len(pattern) <= MAX_REGEX_LENGTH:
        page = await call.links.list_links(call.username, LinkFilter(url_regex=pattern), 100)
        counts = Counter(tag for link in page.links for tag in link.tags)
        recommended += [tag for tag, _ in counts.most_common() if tag not in recommended]
    return Suggestions(popular=[], recommended=recommended[:MAX_SUGGESTIONS])
