"""/v1/news: link events of the people you follow, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api_gateway.deps import News, User
from api_gateway.docs import AUTHED, errors
from api_gateway.forward import Forwarded
from delinkcious.models import DEFAULT_PAGE_SIZE, NewsPage, PageSize

router = APIRouter(prefix="/v1", tags=["news"])


class NewsQuery(BaseModel):
    page_size: PageSize = DEFAULT_PAGE_SIZE
    start_token: Annotated[str, Field(max_length=1024)] = ""


@router.get("/news", response_model=NewsPage, responses=errors(*AUTHED), summary="Your news feed")
async def news(user: User, query: Annotated[NewsQuery, Query()], client: News) -> Response:
    # The page as news-manager's message gives it, written as NewsPage's JSON once.
    return Forwarded(await client.get_news_json(user, query.page_size, query.start_token))
