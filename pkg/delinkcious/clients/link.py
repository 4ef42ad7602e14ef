"""Client of link-manager's internal API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from delinkcious.clients.link_bulk import LinkBulk
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
)


class LinkClient(LinkBulk):
    service = "link-manager"

    async def list_links(
        self, username: str, filters: LinkFilter | None = None, page_size: int = 20, start_token: str = ""
    ) -> LinkPage:
        params = _list_params(filters, page_size, start_token)
        return await self.get_model(LinkPage, f"/users/{username}/links", params=params)

    async def list_links_json(
        self, username: str, filters: LinkFilter | None = None, page_size: int = 20, start_token: str = ""
    ) -> bytes:
        """list_links' LinkPage as link-manager's JSON, to forward as it is."""
        params = _list_params(filters, page_size, start_token)
        return await self.get_json(f"/users/{username}/links", params=params)

    async def get_link(self, username: str, url: str) -> Link:
        """NotFound when the user has no link with this url."""
        return await self.get_model(Link, f"/users/{username}/links/one", params={"url": url})

    async def add_link(self, username: str, link: NewLink, created_at: datetime | None = None) -> Link:
        """`created_at` is when the link was first saved elsewhere (an import's date); now when None."""
        body = DatedNewLink.model_validate(
            {**link.model_dump(), **({"created_at": created_at} if created_at is not None else {})}
        )
        return await self.send_model(
            "POST", Link, f"/users/{username}/links", json=body.model_dump(mode="json", exclude_none=True)
        )

    async def update_link(self, username: str, update: LinkUpdate) -> Link:
        return await self.send_model(
            "PUT", Link, f"/users/{username}/links", json=update.model_dump(exclude_none=True)
        )

    async def delete_link(self, username: str, url: str) -> None:
        await self.request("DELETE", f"/users/{username}/links", params={"url": url})

    async def last_change(self, username: str) -> datetime | None:
        """When the user's links were last added, changed or deleted; None if never."""
        return (await self.get_model(LastChange, f"/users/{username}/links/changed")).changed_at

    async def list_tags(self, username: str) -> TagList:
        return await self.get_model(TagList, f"/users/{username}/tags")

    async def list_tags_json(self, username: str) -> bytes:
        """list_tags' TagList as link-manager's JSON, to forward as it is."""
        return await self.get_json(f"/users/{username}/tags")

    async def rename_tag(self, username: str, old: str, new: str) -> TagCount:
        """NotFound when no link has `old`; InvalidArgument for a bad name."""
        body = {"name": new}
        return await self.send_model("PUT", TagCount, _tag_path(username, old), json=body)

    async def delete_tag(self, username: str, name: str) -> None:
        await self.request("DELETE", _tag_path(username, name))

    async def apply_check(self, result: LinkCheckResult) -> bool:
        response = await self.request("POST", "/link-checks", json=result.model_dump(mode="json"))
        return bool(response.json()["applied"])


def _list_params(filters: LinkFilter | None, page_size: int, start_token: str) -> dict[str, Any]:
    filters = filters or LinkFilter()
    params: dict[str, Any] = {"page_size": page_size, "tag": filters.tags}
    for name in ("url_regex", "title_regex", "description_regex"):
        if getattr(filters, name) is not None:
            params[name] = getattr(filters, name)
    if filters.private is not None:
        params["private"] = "true" if filters.private else "false"
    if start_token:
        params["start_token"] = start_token
    return params


def _tag_path(username: str, tag: str) -> str:
    # A tag may hold any character but whitespace and commas: '/', '?', '#', '%' too,
    # and dots, which a URL would otherwise fold away when the tag is '.' or '..'.
    return f"/users/{username}/tags/{quote(tag, safe='').replace('.', '%2E')}"
