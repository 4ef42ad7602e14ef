"""Your links: the list with its search, and adding, editing and deleting in place."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from api_gateway.deps import Links
from api_gateway.web.deps import PageUser
from api_gateway.web.forms import describe, form_of, optional, split_tags, text
from api_gateway.web.pages import WebRoute, is_partial, render, see_other
from delinkcious.errors import DelinkciousError, InvalidArgument
from delinkcious.models import Link, LinkFilter, LinkUpdate, NewLink

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE_SIZE = 20
Param = Annotated[str, Query(max_length=2048)]


VISIBILITY = {"": None, "private": True, "public": False}
DONE = {"added": "Link saved.", "updated": "Link updated.", "deleted": "Link deleted."}


def _search(
    url_regex: str, title_regex: str, description_regex: str, tags: str, visibility: str
) -> dict[str, str]:
    return {
        "url_regex": url_regex,
        "title_regex": title_regex,
        "description_regex": description_regex,
        "tags": tags,
        "visibility": visibility if visibility in VISIBILITY else "",
    }


@router.get("/")
async def links_page(
    request: Request,
    user: PageUser,
    links: Links,
    title_regex: Param = "",
    url_regex: Param = "",
    description_regex: Param = "",
    tags: Param = "",
    visibility: Param = "",
    after: Param = "",
    done: Param = "",
) -> Response:
    search = _search(url_regex, title_regex, description_regex, tags, visibility)
    context: dict[str, Any] = {"search": search, "links": [], "next_page": "", "after": after, "form": {}}
    context["flash"] = DONE.get(done)
    status = 200
    try:
        filters = LinkFilter(
            url_regex=optional(url_regex),
            title_regex=optional(title_regex),
            description_regex=optional(description_regex),
            tags=split_tags(tags),
            private=VISIBILITY[search["visibility"]],
        )
        page = await links.list_links(user, filters, PAGE_SIZE, after)
        context.update(links=page.links, next_page=page.next_page_token)
    except ValidationError as exc:
        context["search_error"], status = describe(exc), 400
    except InvalidArgument as exc:
        context["search_error"], status = exc.message, 400
    context["searching"] = any(search.values())
    template = "partials/link_list.html" if is_partial(request) else "links.html"
    return render(request, template, context, status_code=status)


@router.get("/links/new")
async def new_link_page(
    request: Request,
    user: PageUser,
    url: Param = "",
    title: Param = "",
    description: Annotated[str, Query(max_length=10_000)] = "",
) -> Response:
    """Also the bookmarklet's target: it opens this page with the page being viewed."""
    form = {"url": url, "title": title, "description": description, "tags": "", "private": ""}
    return render(request, "link_new.html", {"form": form})


@router.post("/links")
async def add_link(request: Request, user: PageUser, links: Links) -> Response:
    form = await form_of(request)
    values = {name: text(form, name) for name in ("url", "title", "description", "tags", "private")}
    try:
        link = await links.add_link(
            user,
            NewLink(
                url=values["url"],
                title=values["title"],
                description=values["description"],
                tags=split_tags(values["tags"]),
                private=bool(values["private"]),
            ),
        )
    except (ValidationError, DelinkciousError) as exc:
        if isinstance(exc, DelinkciousError) and exc.status >= 500:
            raise
        message = describe(exc) if isinstance(exc, ValidationError) else exc.message
        status = 400 if isinstance(exc, ValidationError) else exc.status
        if not is_partial(request):
            return render(
                request, "link_new.html", {"form": values, "form_error": message}, status_code=status
            )
        response = render(request, "partials/link_form.html", {"form": values, "form_error": message}, status)
        response.headers.update({"HX-Retarget": "#add-form", "HX-Reswap": "outerHTML"})
        return response
    if is_partial(request):
        return render(request, "partials/link_added.html", {"link": link, "form": {}})
    return see_other("/?done=added")


async def _one_link(links: Links, user: str, url: str) -> Link:
    return await links.get_link(user, url)


@router.get("/links/edit")
async def edit_link_page(request: Request, user: PageUser, links: Links, url: Param) -> Response:
    link = await _one_link(links, user, url)
    template = "partials/link_edit.html" if is_partial(request) else "link_edit.html"
    return render(request, template, {"link": link, "form": _form_of_link(link)})


@router.get("/links/item")
async def link_item(request: Request, user: PageUser, links: Links, url: Param) -> Response:
    """One link as the list shows it: what "Cancel" on an edit in place goes back to."""
    link = await _one_link(links, user, url)
    if not is_partial(request):
        return see_other("/")
    return render(request, "partials/link_item.html", {"link": link})


def _form_of_link(link: Link) -> dict[str, str]:
    return {
        "url": link.url,
        "title": link.title,
        "description": link.description,
        "tags": " ".join(link.tags),
        "private": "on" if link.private else "",
    }


@router.post("/links/edit")
async def edit_link(request: Request, user: PageUser, links: Links) -> Response:
    form = await form_of(request)
    values = {name: text(form, name) for name in ("url", "title", "description", "tags", "private")}
    link = await _one_link(links, user, values["url"])
    try:
        wanted = set(split_tags(values["tags"]))
        update = LinkUpdate(
            url=link.url,
            title=values["title"],
            description=values["description"],
            add_tags=sorted(wanted - set(link.tags)),
            remove_tags=sorted(set(link.tags) - {t.strip().lower() for t in wanted}),
            private=bool(values["private"]),
        )
        link = await links.update_link(user, update)
    except (ValidationError, InvalidArgument) as exc:
        message = describe(exc) if isinstance(exc, ValidationError) else exc.message
        template = "partials/link_edit.html" if is_partial(request) else "link_edit.html"
        return render(
            request, template, {"link": link, "form": values, "form_error": message}, status_code=400
        )
    if is_partial(request):
        return render(request, "partials/link_item.html", {"link": link, "updated": True})
    return see_other("/?done=updated")


@router.post("/links/delete")
async def delete_link(request: Request, user: PageUser, links: Links) -> Response:
    url = text(await form_of(request), "url")
    await links.delete_link(user, url)
    if is_partial(request):
        return render(request, "partials/link_deleted.html", {"url": url})
    return see_other("/?done=deleted")
