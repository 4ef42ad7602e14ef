"""What web routes depend on: the signed-in user of this browser (or a trip to the
sign-in page), and the same backend clients as the REST routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api_gateway.web.pages import SignInRequired
from api_gateway.web.session import session_user


async def page_user(request: Request) -> str:
    username = await session_user(request)
    if username is None:
        raise SignInRequired
    return username


PageUser = Annotated[str, Depends(page_user)]
