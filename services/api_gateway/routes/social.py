"""/v1/following and /v1/followers: the social graph, from the signed-in user's side.

There is deliberately no way to add a follower to oneself: only the follower acts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api_gateway.deps import Social, User
from api_gateway.docs import AUTHED, errors
from api_gateway.forward import Forwarded
from delinkcious.models import AnyCaseUsername, Followers, Following, Strict

router = APIRouter(prefix="/v1", tags=["social graph"])


class FollowRequest(Strict):
    followed: AnyCaseUsername


@router.get("/following", response_model=Following, responses=errors(*AUTHED), summary="Who you follow")
async def following(user: User, social: Social) -> Response:
    return Forwarded(await social.following_json(user))


@router.post("/following", status_code=204, responses=errors(*AUTHED, 404), summary="Follow someone")
async def follow(user: User, body: FollowRequest, social: Social) -> Response:
    """Following someone already followed is a no-op. Following yourself is a 400."""
    await social.follow(user, body.followed)
    return Response(status_code=204)


@router.delete("/following", status_code=204, responses=errors(*AUTHED), summary="Unfollow someone")
async def unfollow(user: User, followed: Annotated[AnyCaseUsername, Query()], social: Social) -> Response:
    """Idempotent: unfollowing someone not followed is a no-op."""
    await social.unfollow(user, followed)
    return Response(status_code=204)


@router.get("/followers", response_model=Followers, responses=errors(*AUTHED), summary="Who follows you")
async def followers(user: User, social: Social) -> Response:
    return Forwarded(await social.followers_json(user))
