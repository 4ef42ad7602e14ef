"""NewsService on the in-memory store and a fake follower directory."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import pytest

from delinkcious.errors import InvalidArgument, Unavailable
from delinkcious.models import EventType, FollowersPage, LinkEvent
from delinkcious.pagination import PageTokenCodec
from news_service.service import NewsService
from news_service.store import InMemoryFeedStore
from tests.news.support import FakeFollowers, codec, link_event, unique


def make(
    followers: dict[str, list[str]] | None = None, page_size: int = 1000
) -> tuple[NewsService, InMemoryFeedStore, FakeFollowers]:
    store = InMemoryFeedStore(max_length=1000)
    directory = FakeFollowers(followers)
    return NewsService(store, directory, codec(), followers_page_size=page_size), store, directory


async def test_fan_out_reaches_every_follower_across_pages() -> None:
    followers = [f"f{i:03d}" for i in range(25)]
    service, store, directory = make({"author": followers}, page_size=10)
    progress: list[int] = []

    async def on_progress() -> None:
        progress.append(1)

    reached = await service.fan_out(link_event("author", 1), progress=on_progress)

    assert reached == 25
    assert [store.size(f) for f in followers] == [1] * 25
    assert store.size("author") == 0  # the author's own news does not show their links
    assert [c[2] for c in directory.calls] == ["", "10", "20"]
    assert len(progress) == 3


class GatedStore(InMemoryFeedStore):
    """Each write waits until the directory has been asked for the next page (or a
    short while): a walk that asks only after writing takes the timeout every page."""

    def __init__(self, directory: FakeFollowers, fail_on_write: bool = False) -> None:
        super().__init__(max_length=1000)
        self._directory = directory
        self._fail = fail_on_write
        self.overlapped = 0

    async def add(self, event: LinkEvent, followers: Sequence[str]) -> None:
        asked = len(self._directory.calls)
        for _ in range(20):
            if len(self._directory.calls) > asked:
                self.overlapped += 1
                break
            await asyncio.sleep(0.01)
        if self._fail:
            raise Unavailable("the feed store is unavailable")
        await super().add(event, followers)


async def test_the_next_page_of_followers_is_asked_for_while_one_is_written() -> None:
    followers = [f"f{i:03d}" for i in range(25)]
    directory = FakeFollowers({"author": followers})
    store = GatedStore(directory)
    service = NewsService(store, directory, codec(), followers_page_size=10)
    assert await service.fan_out(link_event("author", 1)) == 25
    assert [c[2] for c in directory.calls] == ["", "10", "20"]
    assert store.overlapped == 2  # the last page has no next one to overlap with
    assert [store.size(f) for f in followers] == [1] * 25


class SlowAfterTheFirstPage(FakeFollowers):
    async def followers_page(
        self, username: str, page_size: int, start_token: str, followed_before: datetime | None = None
    ) -> FollowersPage:
        page = await super().followers_page(username, page_size, start_token, followed_before)
        if start_token:
            await asyncio.Event().wait()  # never answers
        return page


async def test_a_failed_write_leaves_no_page_request_behind() -> None:
    directory = SlowAfterTheFirstPage({"author": [f"f{i:03d}" for i in range(25)]})
    store = GatedStore(directory, fail_on_write=True)
    service = NewsService(store, directory, codec(), followers_page_size=10)
    with pytest.raises(Unavailable):
        await service.fan_out(link_event("author", 1))
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_an_author_without_followers_reaches_nobody() -> None:
    service, _, directory = make()
    assert await service.fan_out(link_event("lonely", 1)) == 0
    assert directory.calls == [("lonely", 1000, "")]


async def test_the_same_event_twice_is_in_the_feed_once() -> None:
    service, _, _ = make({"author": ["reader"]})
    event = link_event("author", 1)
    await service.fan_out(event)
    await service.fan_out(event)
    await service.fan_out(event.model_copy())
    page = await service.get_news("reader")
    assert [e.url for e in page.events] == [event.url]


async def test_a_directory_failure_propagates_so_the_event_is_retried() -> None:
    service, store, directory = make({"author": ["reader"]})
    directory.failures = 1
    with pytest.raises(Unavailable):
        await service.fan_out(link_event("author", 1))
    assert store.size("reader") == 0
    await service.fan_out(link_event("author", 1))
    assert store.size("reader") == 1


async def test_an_event_with_an_impossible_author_is_invalid() -> None:
    service, _, directory = make()
    with pytest.raises(InvalidArgument):
        await service.fan_out(link_event("Not A Name", 1))
    assert directory.calls == []


async def test_news_is_newest_first_with_every_event_type() -> None:
    service, _, _ = make({"author": ["reader"]})
    types = [EventType.LINK_ADDED, EventType.LINK_UPDATED, EventType.LINK_DELETED]
    for n, event_type in enumerate(types):
        await service.fan_out(link_event("author", n, event_type=event_type))
    page = await service.get_news("reader")
    assert [e.event_type for e in page.events] == list(reversed(types))
    assert [e.title for e in page.events] == ["link 2", "link 1", "link 0"]
    assert all(e.username == "author" for e in page.events)
    assert page.next_page_token == ""


async def test_page_size_zero_means_twenty() -> None:
    service, _, _ = make({"author": ["reader"]})
    for n in range(25):
        await service.fan_out(link_event("author", n))
    page = await service.get_news("reader", 0)
    assert len(page.events) == 20
    assert page.next_page_token
    rest = await service.get_news("reader", 0, page.next_page_token)
    assert len(rest.events) == 5
    assert rest.next_page_token == ""


async def test_a_full_last_page_has_no_next_token() -> None:
    service, _, _ = make({"author": ["reader"]})
    for n in range(10):
        await service.fan_out(link_event("author", n))
    page = await service.get_news("reader", 10)
    assert len(page.events) == 10
    assert page.next_page_token == ""


async def test_an_empty_feed_is_an_empty_page() -> None:
    service, _, _ = make()
    page = await service.get_news(unique())
    assert page.events == []
    assert page.next_page_token == ""


@pytest.mark.parametrize("page_size", [-1, 101, 1000])
async def test_page_size_out_of_range_is_invalid(page_size: int) -> None:
    service, _, _ = make()
    with pytest.raises(InvalidArgument, match="page_size"):
        await service.get_news("reader", page_size)


@pytest.mark.parametrize("token", ["garbage", "!!!", "x" * 2000, "é"])
async def test_a_bad_token_is_invalid(token: str) -> None:
    service, _, _ = make()
    with pytest.raises(InvalidArgument, match="start_token"):
        await service.get_news("reader", 10, token)


async def test_a_token_is_only_good_for_its_own_user() -> None:
    service, _, _ = make({"author": ["reader", "other"]})
    for n in range(3):
        await service.fan_out(link_event("author", n))
    token = (await service.get_news("reader", 1)).next_page_token
    assert token
    with pytest.raises(InvalidArgument, match="different query"):
        await service.get_news("other", 1, token)


async def test_a_token_signed_with_another_key_is_invalid() -> None:
    forged = PageTokenCodec(b"another-key-of-16-bytes").encode([0, '["x",'], {"news": "reader"})
    service, _, _ = make()
    with pytest.raises(InvalidArgument):
        await service.get_news("reader", 10, forged)


async def test_a_well_signed_token_of_the_wrong_shape_is_invalid() -> None:
    service, _, _ = make()
    for position in ([1, 2], ["1", "x"], [True, "x"], [2**60, "x"], {"a": 1}):
        token = codec().encode(position, {"news": "reader"})
        with pytest.raises(InvalidArgument):
            await service.get_news("reader", 10, token)


@pytest.mark.parametrize("username", ["", "UPPER", "-dash", "a" * 40, "a/b"])
async def test_an_invalid_username_is_invalid(username: str) -> None:
    service, _, _ = make()
    with pytest.raises(InvalidArgument, match="username"):
        await service.get_news(username)
