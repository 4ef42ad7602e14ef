"""SocialGraphClient against the running service: the calls other services make."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest

from delinkcious.clients.social import SocialGraphClient
from delinkcious.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from tests.conftest import CALLER_SECRETS
from tests.social_graph.support import Apps

T = TypeVar("T")


def run(apps: Apps, caller: str, calls: Callable[[SocialGraphClient], Awaitable[T]]) -> T:
    """Runs `calls` on the app's own event loop, with a client in the named caller's shoes."""

    async def scenario() -> T:
        transport = httpx.ASGITransport(app=apps.social.app)
        async with SocialGraphClient("http://social", CALLER_SECRETS[caller], transport=transport) as client:
            assert isinstance(client, SocialGraphClient)
            return await calls(client)

    assert apps.social.portal is not None
    return apps.social.portal.call(scenario)


def test_follow_list_page_and_unfollow(apps: Apps) -> None:
    apps.register("alice", "bob", "carol", "dave")

    async def gateway(client: SocialGraphClient) -> tuple[list[str], list[str]]:
        await client.follow("alice", "bob")
        await client.follow("carol", "bob")
        await client.follow("dave", "bob")
        await client.follow("alice", "carol")
        await client.follow("alice", "bob")
        await client.unfollow("dave", "bob")
        await client.unfollow("dave", "bob")
        return await client.following("alice"), await client.followers("bob")

    assert run(apps, "api-gateway", gateway) == (["bob", "carol"], ["alice", "carol"])

    async def news(client: SocialGraphClient) -> list[str]:
        names: list[str] = []
        token = ""
        while True:
            page = await client.followers_page("bob", page_size=1, start_token=token)
            names.extend(page.followers)
            if not page.next_page_token:
                return names
            token = page.next_page_token

    assert run(apps, "news-manager", news) == ["alice", "carol"]


def test_errors_come_back_as_exceptions(apps: Apps) -> None:
    apps.register("alice")

    async def unknown(client: SocialGraphClient) -> None:
        await client.follow("alice", "ghost")

    async def yourself(client: SocialGraphClient) -> None:
        await client.follow("alice", "alice")

    async def bad_token(client: SocialGraphClient) -> None:
        await client.followers_page("alice", start_token="forged")

    async def not_allowed(client: SocialGraphClient) -> None:
        await client.following("alice")

    with pytest.raises(NotFound):
        run(apps, "api-gateway", unknown)
    with pytest.raises(InvalidArgument):
        run(apps, "api-gateway", yourself)
    with pytest.raises(InvalidArgument):
        run(apps, "news-manager", bad_token)
    with pytest.raises(PermissionDenied):
        run(apps, "news-manager", not_allowed)
    with pytest.raises(Unauthenticated):
        run(apps, "link-manager", not_allowed)


def test_usernames_stay_one_path_segment(apps: Apps) -> None:
    """A name with '/' or '..' in it cannot reach another user's route."""
    apps.register("alice", "bob", "carol")

    async def scenario(client: SocialGraphClient) -> list[str]:
        await client.follow("bob", "carol")
        with pytest.raises((InvalidArgument, NotFound)):
            await client.unfollow("alice", "../../bob/following/carol")
        return await client.following("bob")

    assert run(apps, "api-gateway", scenario) == ["carol"]
