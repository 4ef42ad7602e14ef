"""/v1/tags: the caller's tags with counts; rename and delete across all their links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api_gateway.deps import Links, User
from api_gateway.docs import AUTHED, errors
from api_gateway.forward import Forwarded
from delinkcious.models import Tag, TagCount, TagList, TagRename

router = APIRouter(prefix="/v1/tags", tags=["tags"])

# `:path` lets a tag with a slash in it (sent as %2F) reach the route; it is trimmed and
# lowercased like any tag, and a name that cannot be a tag is a 400.
TagName = Annotated[Tag, Path(description="The tag, as on the links (trimmed and lowercased)")]


@router.get("", response_model=TagList, responses=errors(*AUTHED), summary="List your tags with counts")
async def list_tags(user: User, links: Links) -> Response:
    """Sorted by name; `count` is how many of your links carry the tag."""
    return Forwarded(await links.list_tags_json(user))


@router.put("/{name:path}", responses=errors(*AUTHED, 404), summary="Rename a tag on every link that has it")
async def rename_tag(user: User, name: TagName, body: TagRename, links: Links) -> TagCount:
    """Every link tagged `name` is tagged `body.name` instead; a link that has both keeps
    one. Each changed link produces one `link_updated` event. Answers the new name and
    how many links now carry it; 404 when no link has `name`."""
    return await links.rename_tag(user, name, body.name)


@router.delete(
    "/{name:path}",
    status_code=204,
    responses=errors(*AUTHED, 404),
    summary="Remove a tag from every link that has it",
)
async def delete_tag(user: User, name: TagName, links: Links) -> Response:
    """Each changed link produces one `link_updated` event; 404 when no link has the tag."""
    await links.delete_tag(user, name)
    return Response(status_code=204)
