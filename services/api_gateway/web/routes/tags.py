"""Your tags with their counts: rename (merging into an existing tag) and delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from api_gateway.deps import Links
from api_gateway.web.deps import PageUser
from api_gateway.web.forms import describe, form_of, text
from api_gateway.web.pages import WebRoute, render, see_other
from delinkcious.errors import InvalidArgument, NotFound
from delinkcious.models import TagRename

router = APIRouter(route_class=WebRoute, include_in_schema=False)


async def _tags(request: Request, user: str, links: Links, status_code: int = 200, **extra: Any) -> Response:
    listed = await links.list_tags(user)
    return render(request, "tags.html", {"tags": listed.tags, **extra}, status_code=status_code)


@router.get("/tags")
async def tags_page(
    request: Request, user: PageUser, links: Links, done: str = "", tag: str = ""
) -> Response:
    flash = {"renamed": f"Renamed to #{tag}.", "deleted": f"Deleted #{tag} from every link."}.get(done)
    return await _tags(request, user, links, flash=flash)


@router.post("/tags/rename")
async def rename_tag(request: Request, user: PageUser, links: Links) -> Response:
    form = await form_of(request)
    old, new = text(form, "tag"), text(form, "name")
    try:
        renamed = await links.rename_tag(user, old, TagRename(name=new).name)
    except ValidationError as exc:
        return await _tags(request, user, links, 400, form_error=f"#{old}: {describe(exc)}")
    except (InvalidArgument, NotFound) as exc:
        return await _tags(request, user, links, exc.status, form_error=f"#{old}: {exc.message}")
    return see_other(f"/tags?done=renamed&tag={renamed.name}")


@router.post("/tags/delete")
async def delete_tag(request: Request, user: PageUser, links: Links) -> Response:
    tag = text(await form_of(request), "tag")
    await links.delete_tag(user, tag)
    return see_other(f"/tags?done=deleted&tag={tag}")
