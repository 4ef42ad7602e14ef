"""LinkClient against link-manager served over real HTTP (uvicorn on a free port), on
Postgres and SQLite: dated creates, reading one link, the private filter, and the tag
calls with names that need escaping in a path."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime

import pytest
import uvicorn

from delinkcious.clients.link import LinkClient
from delinkcious.errors import InvalidArgument, NotFound
from delinkcious.models import LinkFilter, LinkUpdate, NewLink, TagCount
from link_service.settings import LinkSettings
from link_service.transport import create_app
from tests.conftest import CALLER_SECRETS, caller_tokens_env


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signals stay with pytest


@pytest.fixture
async def links(database_url: str, nats_url: str) -> AsyncIterator[LinkClient]:
    settings = LinkSettings(
        LINK_MANAGER_DATABASE_URL=database_url,
        CALLER_TOKENS=caller_tokens_env("api-gateway", "link-checker"),
        PAGE_TOKEN_KEY="client-test-page-token-key",
        NATS_URL=nats_url,
    )
    sock = socket.create_server(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(create_app(settings), log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "link-manager did not start"
        await asyncio.sleep(0.01)
    client = LinkClient(f"http://127.0.0.1:{sock.getsockname()[1]}", CALLER_SECRETS["api-gateway"])
    try:
        yield client
    finally:
        await client.aclose()
        server.should_exit = True
        await task
        sock.close()


async def test_dated_create_get_and_private_filter(links: LinkClient) -> None:
    at = datetime(2012, 2, 3, 4, 5, 6, tzinfo=UTC)
    old = await links.add_link("alice", NewLink(url="https://e.com/old", private=True), created_at=at)
    assert (old.created_at, old.private) == (at, True) and old.updated_at > at
    new = await links.add_link("alice", NewLink(url="https://e.com/new"))
    assert new.created_at > at
    assert await links.get_link("alice", "https://e.com/old") == old
    with pytest.raises(NotFound):
        await links.get_link("alice", "https://e.com/none")
    with pytest.raises(NotFound):
        await links.get_link("bob", "https://e.com/old")
    page = await links.list_links("alice", LinkFilter(private=True))
    assert [link.url for link in page.links] == ["https://e.com/old"]
    page = await links.list_links("alice", LinkFilter(private=False))
    assert [link.url for link in page.links] == ["https://e.com/new"]
    page = await links.list_links("alice", page_size=1)
    assert [link.url for link in page.links] == ["https://e.com/new"]
    rest = await links.list_links("alice", page_size=1, start_token=page.next_page_token)
    assert [link.url for link in rest.links] == ["https://e.com/old"] and rest.next_page_token == ""
    shown = await links.update_link("alice", LinkUpdate(url="https://e.com/old", private=False))
    assert shown.private is False and shown.created_at == at


@pytest.mark.parametrize("odd", ["a/b", "c++?x#y", "100%", "..", "é/../x"])
async def test_tag_calls_with_names_that_need_escaping(links: LinkClient, odd: str) -> None:
    await links.add_link("alice", NewLink(url="https://e.com/1", tags=[odd, "plain"]))
    await links.add_link("alice", NewLink(url="https://e.com/2", tags=["plain"]))
    assert [(t.name, t.count) for t in (await links.list_tags("alice")).tags] == sorted(
        [(odd, 1), ("plain", 2)]
    )
    assert await links.rename_tag("alice", odd, "renamed") == TagCount(name="renamed", count=1)
    assert await links.rename_tag("alice", "renamed", odd) == TagCount(name=odd, count=1)
    await links.delete_tag("alice", odd)
    assert [t.name for t in (await links.list_tags("alice")).tags] == ["plain"]
    with pytest.raises(NotFound):
        await links.delete_tag("alice", odd)
    with pytest.raises(InvalidArgument):
        await links.rename_tag("alice", "plain", "two words")
