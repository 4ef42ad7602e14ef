"""Who exists: the social graph asks user-manager, which owns the users."""

from __future__ import annotations

from typing import Protocol

from delinkcious.clients.user import UserClient
from delinkcious.errors import NotFound


class UserDirectory(Protocol):
    async def exists(self, username: str) -> bool: ...


class UserManagerDirectory:
    """The production directory. Only a definite "no such user" is False: user-manager
    being down raises Unavailable, so a follow fails instead of being wrongly refused."""

    def __init__(self, client: UserClient) -> None:
        self._client = client

    async def exists(self, username: str) -> bool:
        try:
            await self._client.get_user(username)
        except NotFound:
            return False
        return True
