"""SocialGraphService's rules, on the in-memory store and a fake user directory."""

from __future__ import annotations

import pytest

from delinkcious.errors import InvalidArgument, NotFound
from delinkcious.pagination import PageTokenCodec
from social_graph_service.service import SocialGraphService
from social_graph_service.store import InMemorySocialGraphStore
from tests.social_graph.support import PAGE_TOKEN_KEY, FakeDirectory

USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace")


def make_service(*usernames: str, key: str = PAGE_TOKEN_KEY) -> SocialGraphService:
    directory = FakeDirectory(*(usernames or USERS))
    return SocialGraphService(InMemorySocialGraphStore(), directory, PageTokenCodec(key.encode()))


async def test_follow_shows_on_both_sides() -> None:
    service = make_service()
    await service.follow("alice", "bob")
    assert await service.following("alice") == ["bob"]
    assert await service.followers("bob") == ["alice"]
    assert await service.following("bob") == []
    assert await service.followers("alice") == []


async def test_follow_twice_is_a_no_op() -> None:
    service = make_service()
    await service.follow("alice", "bob")
    await service.follow("alice", "bob")
    assert await service.following("alice") == ["bob"]
    assert await service.followers("bob") == ["alice"]


async def test_cannot_follow_yourself() -> None:
    service = make_service()
    with pytest.raises(InvalidArgument, match="cannot follow yourself"):
        await service.follow("alice", "alice")
    assert await service.following("alice") == []


async def test_following_an_unknown_user_is_not_found_and_stores_nothing() -> None:
    directory = FakeDirectory("alice")
    service = SocialGraphService(
        InMemorySocialGraphStore(), directory, PageTokenCodec(PAGE_TOKEN_KEY.encode())
    )
    with pytest.raises(NotFound, match="ghost"):
        await service.follow("alice", "ghost")
    assert directory.asked == ["ghost"]
    assert await service.following("alice") == []
    assert await service.followers("ghost") == []


async def test_malformed_usernames_are_invalid_arguments() -> None:
    service = make_service()
    with pytest.raises(InvalidArgument):
        await service.follow("alice", "Bob!")
    with pytest.raises(InvalidArgument):
        await service.unfollow("-alice", "bob")
    with pytest.raises(InvalidArgument):
        await service.followers("a" * 40)
    with pytest.raises(InvalidArgument):
        await service.followers_page("")


async def test_unfollow_is_idempotent() -> None:
    service = make_service()
    await service.unfollow("alice", "bob")  # never followed: still fine
    await service.follow("alice", "bob")
    await service.follow("carol", "bob")
    await service.unfollow("alice", "bob")
    await service.unfollow("alice", "bob")
    assert await service.following("alice") == []
    assert await service.followers("bob") == ["carol"]


async def test_listings_are_sorted_by_name() -> None:
    service = make_service()
    for name in ("grace", "bob", "erin", "carol"):
        await service.follow(name, "alice")
        await service.follow("alice", name)
    assert await service.followers("alice") == ["bob", "carol", "erin", "grace"]
    assert await service.following("alice") == ["bob", "carol", "erin", "grace"]


async def collect_pages(service: SocialGraphService, username: str, size: int) -> list[list[str]]:
    pages, token = [], ""
    while True:
        page = await service.followers_page(username, size, token)
        pages.append(page.followers)
        if not page.next_page_token:
            return pages
        token = page.next_page_token


async def test_followers_come_in_pages_in_name_order() -> None:
    service = make_service()
    for name in ("grace", "bob", "erin", "carol", "dave", "frank"):
        await service.follow(name, "alice")
    assert await collect_pages(service, "alice", 4) == [["bob", "carol", "dave", "erin"], ["frank", "grace"]]
    # An exact multiple of the page size ends without an empty extra page.
    assert await collect_pages(service, "alice", 3) == [["bob", "carol", "dave"], ["erin", "frank", "grace"]]
    assert await collect_pages(service, "alice", 6) == [["bob", "carol", "dave", "erin", "frank", "grace"]]


async def test_no_followers_is_one_empty_page() -> None:
    page = await make_service().followers_page("alice")
    assert page.followers == []
    assert page.next_page_token == ""


async def test_follows_between_pages_neither_repeat_nor_skip_the_others() -> None:
    service = make_service()
    for name in ("bob", "dave", "frank"):
        await service.follow(name, "alice")
    first = await service.followers_page("alice", 2)
    assert first.followers == ["bob", "dave"]
    await service.follow("carol", "alice")  # sorts before the cursor: not this walk's business
    await service.follow("grace", "alice")  # sorts after it: shows up
    await service.unfollow("bob", "alice")
    second = await service.followers_page("alice", 2, first.next_page_token)
    assert second.followers == ["frank", "grace"]
    assert second.next_page_token == ""


@pytest.mark.parametrize("size", [0, -1, 1001])
async def test_page_size_out_of_range_is_invalid(size: int) -> None:
    with pytest.raises(InvalidArgument, match="page_size"):
        await make_service().followers_page("alice", size)


async def test_page_size_bounds_are_accepted() -> None:
    service = make_service()
    await service.follow("bob", "alice")
    assert (await service.followers_page("alice", 1)).followers == ["bob"]
    assert (await service.followers_page("alice", 1000)).followers == ["bob"]


async def first_token(service: SocialGraphService, username: str) -> str:
    for name in ("bob", "carol", "dave"):
        if name != username:
            await service.follow(name, username)
    token = (await service.followers_page(username, 1)).next_page_token
    assert token
    return token


def tamper(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


@pytest.mark.parametrize("bad", ["junk", "!!!", "é", "A" * 40, "", "x"])
async def test_garbage_page_tokens_are_invalid(bad: str) -> None:
    service = make_service()
    await first_token(service, "alice")
    if bad == "":
        # The empty token is the first page, not an error.
        assert (await service.followers_page("alice", 1, bad)).followers == ["bob"]
        return
    with pytest.raises(InvalidArgument, match="start_token"):
        await service.followers_page("alice", 1, bad)


async def test_a_tampered_page_token_is_invalid() -> None:
    service = make_service()
    token = await first_token(service, "alice")
    with pytest.raises(InvalidArgument, match="start_token"):
        await service.followers_page("alice", 1, tamper(token))


async def test_a_page_token_only_works_for_the_listing_it_came_from() -> None:
    service = make_service()
    token = await first_token(service, "alice")
    await first_token(service, "erin")
    with pytest.raises(InvalidArgument, match="different query"):
        await service.followers_page("erin", 1, token)


async def test_a_page_token_signed_with_another_key_is_invalid() -> None:
    other = make_service(key="another-key-of-enough-length")
    token = await first_token(other, "alice")
    service = make_service()
    await first_token(service, "alice")
    with pytest.raises(InvalidArgument, match="start_token"):
        await service.followers_page("alice", 1, token)


async def test_a_page_token_may_continue_with_another_page_size() -> None:
    service = make_service()
    token = await first_token(service, "alice")
    assert (await service.followers_page("alice", 10, token)).followers == ["carol", "dave"]
