"""Client of user-manager's internal API."""

from __future__ import annotations

from delinkcious.clients.base import ServiceClient
from delinkcious.models import Identity, IssuedToken, TokenOwner, User


class UserClient(ServiceClient):
    service = "user-manager"

    async def login(self, identity: Identity) -> User:
        return await self.send_model("POST", User, "/identities/login", json=identity.model_dump())

    async def get_user(self, username: str) -> User:
        return await self.get_model(User, f"/users/{username}")

    async def issue_token(self, username: str) -> IssuedToken:
        return await self.send_model("POST", IssuedToken, f"/users/{username}/tokens")

    async def validate_token(self, token: str) -> TokenOwner:
        return await self.send_model("POST", TokenOwner, "/tokens/validate", json={"token": token})

    async def revoke_token(self, token: str) -> None:
        await self.request("POST", "/tokens/revoke", json={"token": token})
