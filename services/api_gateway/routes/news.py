"""/v1/news: link events of the people you follow, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api_gateway.deps import News, User
from api_gateway.docs import AUTHED, errors
from delinkcious.models import DEFAULT_PAGE_SIZE, NewsPage, PageSize

router = APIRouter(prefix="/v1", tags=["news"])


class NewsQuery(BaseModel):
    page_size: PageSize = DEFAULT_PAGE_SIZE
    start_token: Annotated[str, Field(max_length=1024)] = ""


@router.get("/news", responses=errors(*AUTHED), summary="Your news feed")
async def news(user: User, query: Annotated[NewsQuery, Query()], client: News) -> NewsPage:
    return await client.get_news(user, query.page_size, query.start_token)
