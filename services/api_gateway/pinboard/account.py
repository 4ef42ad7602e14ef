"""tags/* and user/*: the caller's tags, as link-manager counts, renames and deletes them,
and the caller's token."""

from __future__ import annotations

from api_gateway.pinboard.auth import Call
from api_gateway.pinboard.formats import ResultText, TagCounts


async def tags_get(call: Call) -> TagCounts:
    listing = await call.links.list_tags(call.username)
    return TagCounts({tag.name: tag.count for tag in listing.tags})


async def tags_delete(call: Call) -> ResultText:
    await call.links.delete_tag(call.username, call.params.required("tag").strip())
    return ResultText("done")


async def tags_rename(call: Call) -> ResultText:
    old = call.params.required("old").strip()
    new = call.params.required("new").strip()
    await call.links.rename_tag(call.username, old, new)
    return ResultText("done")


async def api_token(call: Call) -> ResultText:
    """Pinboard's token is the part after `username:`; ours is the one the call used,
    so this tells the client nothing it did not send."""
    return ResultText(call.token)


async def secret(call: Call) -> ResultText:
    """Pinboard's secret keys private feeds. Delinkcious feeds take any token of the
    user, so it is the same token; a feed reader is better given a feeds-scope one."""
    return ResultText(call.token)
