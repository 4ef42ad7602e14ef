"""People (follow by username, followers, following, unfollow) and the news."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from api_gateway.deps import News, Social
from api_gateway.routes.social import FollowRequest
from api_gateway.web.deps import PageUser
from api_gateway.web.forms import describe, form_of, text
from api_gateway.web.pages import WebRoute, render, see_other
from delinkcious.errors import InvalidArgument, NotFound
from delinkcious.models import DEFAULT_PAGE_SIZE

router = APIRouter(route_class=WebRoute, include_in_schema=False)


async def _people(request: Request, user: str, social: Social, **extra: Any) -> Response:
    status = extra.pop("status_code", 200)
    context = {
        "following": await social.following(user),
        "followers": await social.followers(user),
        **extra,
    }
    return render(request, "people.html", context, status_code=status)


@router.get("/people")
async def people_page(request: Request, user: PageUser, social: Social, done: str = "") -> Response:
    flash = {"followed": "Followed.", "unfollowed": "Unfollowed."}.get(done)
    return await _people(request, user, social, flash=flash)


@router.post("/people/follow")
async def follow(request: Request, user: PageUser, social: Social) -> Response:
    typed = text(await form_of(request), "username").strip()
    try:
        await social.follow(user, FollowRequest(followed=typed).followed)
    except ValidationError as exc:
        message = describe(exc).replace("followed: ", "")
        return await _people(request, user, social, form_error=message, typed=typed, status_code=400)
    except (InvalidArgument, NotFound) as exc:
        return await _people(
            request, user, social, form_error=exc.message, typed=typed, status_code=exc.status
        )
    return see_other("/people?done=followed")


@router.post("/people/unfollow")
async def unfollow(request: Request, user: PageUser, social: Social) -> Response:
    typed = text(await form_of(request), "username")
    try:
        followed = FollowRequest(followed=typed).followed
    except ValidationError as exc:
        raise InvalidArgument(describe(exc)) from None
    await social.unfollow(user, followed)
    return see_other("/people?done=unfollowed")


@router.get("/news")
async def news_page(
    request: Request, user: PageUser, news: News, after: Annotated[str, Query(max_length=1024)] = ""
) -> Response:
    page = await news.get_news(user, DEFAULT_PAGE_SIZE, after)
    return render(
        request, "news.html", {"events": page.events, "next_page": page.next_page_token, "after": after}
    )
