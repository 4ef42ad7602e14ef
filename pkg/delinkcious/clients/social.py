"""Client of social-graph-manager's internal API."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from delinkcious.clients.base import ServiceClient
from delinkcious.models import Followers, FollowersPage, Following


def _seg(username: str) -> str:
    """One path segment, whatever the caller passed: a '/' or '..' cannot reach another route."""
    return quote(username, safe="")


class SocialGraphClient(ServiceClient):
    service = "social-graph-manager"

    async def follow(self, follower: str, followed: str) -> None:
        path = f"/users/{_seg(follower)}/following"
        await self.request("POST", path, json={"followed": followed})

    async def unfollow(self, follower: str, followed: str) -> None:
        await self.request("DELETE", f"/users/{_seg(follower)}/following/{_seg(followed)}")

    async def following(self, username: str) -> list[str]:
        return (await self.get_model(Following, f"/users/{_seg(username)}/following")).following

    async def followers(self, username: str) -> list[str]:
        return (await self.get_model(Followers, f"/users/{_seg(username)}/followers")).followers

    async def following_json(self, username: str) -> bytes:
        """Following as social-graph-manager's JSON, to forward as it is."""
        return await self.get_json(f"/users/{_seg(username)}/following")

    async def followers_json(self, username: str) -> bytes:
        """Followers as social-graph-manager's JSON, to forward as it is."""
        return await self.get_json(f"/users/{_seg(username)}/followers")

    async def followers_page(
        self,
        username: str,
        page_size: int | None = None,
        start_token: str = "",
        followed_before: datetime | None = None,
    ) -> FollowersPage:
        params: dict[str, str | int] = {}
        if followed_before is not None:
            params["followed_before"] = followed_before.isoformat()
        if page_size is not None:
            params["page_size"] = page_size
        if start_token:
            params["start_token"] = start_token
        return await self.get_model(FollowersPage, f"/users/{_seg(username)}/followers/page", params=params)
