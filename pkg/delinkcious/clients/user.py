"""Client of user-manager's internal API."""

from __future__ import annotations

from urllib.parse import quote

from delinkcious.clients.base import ServiceClient
from delinkcious.models import (
    ApiTokenList,
    ApiTokenScope,
    CreatedApiToken,
    Identity,
    IssuedToken,
    TokenOwner,
    User,
)


class UserClient(ServiceClient):
    service = "user-manager"

    async def login(self, identity: Identity) -> User:
        return await self.send_model("POST", User, "/identities/login", json=identity.model_dump())

    async def get_user(self, username: str) -> User:
        return await self.get_model(User, f"/users/{username}")

    async def get_user_json(self, username: str) -> bytes:
        """get_user's User as user-manager's JSON, to forward as it is."""
        return await self.get_json(f"/users/{username}")

    async def issue_token(self, username: str) -> IssuedToken:
        return await self.send_model("POST", IssuedToken, f"/users/{username}/tokens")

    async def validate_token(self, token: str) -> TokenOwner:
        """Login and personal API tokens alike; `scope` says which kind it is."""
        return await self.send_model("POST", TokenOwner, "/tokens/validate", json={"token": token})

    async def revoke_token(self, token: str) -> None:
        """A login token is revoked; a personal API token is deleted."""
        await self.request("POST", "/tokens/revoke", json={"token": token})

    async def create_api_token(
        self, username: str, name: str, scope: ApiTokenScope | str = ApiTokenScope.FULL
    ) -> CreatedApiToken:
        # user-manager validates: a bad name or scope comes back as its InvalidArgument.
        body = {"name": name, "scope": str(scope)}
        return await self.send_model("POST", CreatedApiToken, f"/users/{username}/api-tokens", json=body)

    async def list_api_tokens(self, username: str) -> ApiTokenList:
        return await self.get_model(ApiTokenList, f"/users/{username}/api-tokens")

    async def list_api_tokens_json(self, username: str) -> bytes:
        """list_api_tokens' ApiTokenList as user-manager's JSON, to forward as it is."""
        return await self.get_json(f"/users/{username}/api-tokens")

    async def delete_api_token(self, username: str, token_id: str) -> None:
        """NotFound unless the user has a token of that id."""
        await self.request("DELETE", f"/users/{username}/api-tokens/{quote(token_id, safe='')}")
