"""Dependency aliases for the routes: the signed-in user (rate limited), the list and
news caches and the backends (those read from the app's state, by from_app_state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api_gateway.auth import CurrentUser
from api_gateway.list_cache import ListCache, Listing, version_key
from api_gateway.ratelimit import RateLimiter
from delinkcious.app import from_app_state
from delinkcious.clients.link import LinkClient
from delinkcious.clients.news import NewsClient
from delinkcious.clients.social import SocialGraphClient
from delinkcious.clients.user import UserClient
from delinkcious.news.versions import news_version_key


async def signed_in_user(request: Request, username: CurrentUser) -> str:
    limiter: RateLimiter = request.app.state.limiter
    await limiter.check(username)
    return username


async def listing_user(request: Request, username: CurrentUser) -> Listing:
    """signed_in_user, and the version of the user's links read in the rate limiter's
    round trip (list_cache.py)."""
    limiter: RateLimiter = request.app.state.limiter
    cache: ListCache = request.app.state.list_cache
    if not cache.enabled:
        await limiter.check(username)
        return Listing(username, None)
    if not cache.shared:
        await limiter.check(username)
        return Listing(username, cache.version(username, "-"))
    shared = await limiter.check(username, read=version_key(username))
    return Listing(username, None if shared is None else cache.version(username, shared))


async def news_reader(request: Request, username: CurrentUser) -> Listing:
    """signed_in_user, and the version of the user's feed read in the rate limiter's
    round trip. Only Redis knows of deliveries: without it no news page is kept."""
    limiter: RateLimiter = request.app.state.limiter
    cache: ListCache = request.app.state.news_cache
    if not (cache.enabled and cache.shared):
        await limiter.check(username)
        return Listing(username, None)
    return Listing(username, await limiter.check(username, read=news_version_key(username)))


User = Annotated[str, Depends(signed_in_user)]
ListingUser = Annotated[Listing, Depends(listing_user)]
ListCacheDep = Annotated[ListCache, from_app_state("list_cache")]
NewsReader = Annotated[Listing, Depends(news_reader)]
NewsCacheDep = Annotated[ListCache, from_app_state("news_cache")]
Links = Annotated[LinkClient, from_app_state("links")]
Users = Annotated[UserClient, from_app_state("users")]
Social = Annotated[SocialGraphClient, from_app_state("social")]
News = Annotated[NewsClient, from_app_state("news")]
