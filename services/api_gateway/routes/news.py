"""/v1/news: link events of the people you follow, newest first."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from api_gateway.deps import News, NewsCacheDep, NewsReader
from api_gateway.docs import AUTHED, errors
from api_gateway.forward import Forwarded
from delinkcious.models import DEFAULT_PAGE_SIZE, NewsPage, PageSize

router = APIRouter(prefix="/v1", tags=["news"])


class NewsQuery(BaseModel):
    page_size: PageSize = DEFAULT_PAGE_SIZE
    start_token: Annotated[str, Field(max_length=1024)] = ""


@router.get("/news", response_model=NewsPage, responses=errors(*AUTHED), summary="Your news feed")
async def news(
    reader: NewsReader, query: Annotated[NewsQuery, Query()], client: News, cache: NewsCacheDep
) -> Response:
    """Newest first; page with `next_page_token` until it is empty. An event shows in
    the next read once news-manager has delivered it, through any gateway replica."""

    def fetch() -> Awaitable[bytes]:
        # The page as news-manager's message gives it, written as NewsPage's JSON once.
        return client.get_news_json(reader.username, query.page_size, query.start_token)

    return Forwarded(await cache.page(reader, (query.page_size, query.start_token), fetch))
