"""The gateway's ListCache on its own: pages kept under the version of their owner's
links, with a clock the test moves; versions shared through a real Redis, read in the
rate limiter's own round trip."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from api_gateway.list_cache import ListCache, Listing, VersionedLinkClient, version_key
from api_gateway.ratelimit import RedisRateLimiter
from api_gateway.shared_state import SharedState
from delinkcious.errors import Unavailable
from tests.servers import RedisServer, free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def body(*statuses: str) -> bytes:
    links = [{"url": f"https://example.com/{i}", "status": s} for i, s in enumerate(statuses)]
    return orjson.dumps({"links": links, "next_page_token": ""})


class Backend:
    """What link-manager would answer, and how often it was asked."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.calls = 0

    async def __call__(self) -> bytes:
        self.calls += 1
        return self.answer


def test_a_page_is_served_again_while_the_version_holds_and_for_seconds_only() -> None:
    clock = Clock()
    cache = ListCache(2.0, 1 << 20, None, clock=clock)
    backend = Backend(body("valid", "invalid"))

    async def scenario() -> None:
        v = Listing("alice", cache.version("alice", "-"))
        assert await cache.page(v, "q", backend) == backend.answer
        assert await cache.page(v, "q", backend) == backend.answer
        assert backend.calls == 1
        assert await cache.page(v, "other query", backend) == backend.answer
        assert await cache.page(Listing("bob", cache.version("bob", "-")), "q", backend)
        assert backend.calls == 3  # each user and query has its own page
        clock.now += 1.99
        await cache.page(v, "q", backend)
        assert backend.calls == 3
        clock.now += 0.01
        await cache.page(v, "q", backend)
        assert backend.calls == 4  # expired, fetched again

    asyncio.run(scenario())


def test_a_change_through_this_replica_ends_the_pages_kept_before_it() -> None:
    cache = ListCache(30.0, 1 << 20, None)
    backend = Backend(body("valid"))

    async def scenario() -> None:
        before = Listing("alice", cache.version("alice", "-"))
        await cache.page(before, "q", backend)
        await cache.changed("alice")
        after = Listing("alice", cache.version("alice", "-"))
        assert after.version != before.version
        backend.answer = body("valid", "valid")
        assert await cache.page(after, "q", backend) == body("valid", "valid")
        assert backend.calls == 2
        # A read whose version was taken before the change keeps its answer to itself.
        assert await cache.page(before, "q", backend) == body("valid", "valid")
        assert backend.calls == 3

    asyncio.run(scenario())


def test_a_page_with_a_pending_link_is_never_kept() -> None:
    cache = ListCache(30.0, 1 << 20, None)
    backend = Backend(body("valid", "pending"))

    async def scenario() -> None:
        v = Listing("alice", cache.version("alice", "-"))
        for _ in range(3):
            await cache.page(v, "q", backend)
        assert backend.calls == 3
        # The word in a title or description is escaped JSON, not a status: kept.
        page = {"links": [{"title": '"status":"pending"', "status": "valid"}], "next_page_token": ""}
        backend.answer = orjson.dumps(page)
        await cache.page(v, "titled", backend)
        await cache.page(v, "titled", backend)
        assert backend.calls == 4

    asyncio.run(scenario())


def test_unknown_version_or_no_cache_fetches_every_time() -> None:
    backend = Backend(body("valid"))

    async def scenario() -> None:
        cache = ListCache(30.0, 1 << 20, None)
        await cache.page(Listing("alice", None), "q", backend)
        await cache.page(Listing("alice", None), "q", backend)
        off = ListCache(0, 1 << 20, None)
        await off.page(Listing("alice", "x"), "q", backend)
        await off.page(Listing("alice", "x"), "q", backend)
        assert not off.enabled
        assert backend.calls == 4

    asyncio.run(scenario())


def test_the_least_recently_used_pages_go_first_past_max_bytes() -> None:
    page = body(*["valid"] * 20)
    cache = ListCache(30.0, 8 * len(page) + 10, None)  # room for 8 pages
    backend = Backend(page)

    async def scenario() -> None:
        v = {u: Listing(u, cache.version(u, "-")) for u in ("a", "b")}
        for i in range(8):
            await cache.page(v["a"], i, backend)
        await cache.page(v["a"], 0, backend)  # used again: the most recent now
        await cache.page(v["b"], 0, backend)  # a ninth page evicts the oldest, query 1
        assert backend.calls == 9
        await cache.page(v["a"], 0, backend)
        assert backend.calls == 9
        await cache.page(v["a"], 1, backend)
        assert backend.calls == 10

    asyncio.run(scenario())


def test_the_version_is_shared_in_redis_and_read_in_the_rate_limiters_round_trip(redis: RedisServer) -> None:
    async def scenario() -> None:
        a, b = SharedState(redis.url), SharedState(redis.url)  # two replicas
        cache_a, cache_b = ListCache(30.0, 1 << 20, a), ListCache(30.0, 1 << 20, b)
        limiter_b = RedisRateLimiter(b, per_second=100, burst=100)
        try:
            assert await limiter_b.check("carol", read=version_key("carol")) == "0"
            assert await limiter_b.check("carol") is None  # nothing asked, nothing read
            backend = Backend(body("valid"))
            shared = await limiter_b.check("carol", read=version_key("carol"))
            assert shared is not None
            kept = Listing("carol", cache_b.version("carol", shared))
            await cache_b.page(kept, "q", backend)
            await cache_a.changed("carol")  # a save through the other replica
            shared = await limiter_b.check("carol", read=version_key("carol"))
            assert shared == "1"
            now = Listing("carol", cache_b.version("carol", shared))
            assert now != kept
            await cache_b.page(now, "q", backend)
            assert backend.calls == 2
            assert 0 < await a.redis.ttl(version_key("carol")) <= 86_400
        finally:
            await a.aclose()
            await b.aclose()

    asyncio.run(scenario())


def test_with_redis_away_the_version_is_unknown_and_changes_still_count_here(redis: RedisServer) -> None:
    async def scenario() -> None:
        shared = SharedState(redis.url)
        cache = ListCache(30.0, 1 << 20, shared)
        limiter = RedisRateLimiter(shared, per_second=100, burst=100)
        redis.stop()
        try:
            before = cache.version("dave", "7")
            await cache.changed("dave")  # no error: the other replicas' pages expire
            assert cache.version("dave", "7") != before
            assert await limiter.check("dave", read=version_key("dave")) is None  # not cached
        finally:
            redis.start()
            await shared.aclose()

    asyncio.run(scenario())


def test_a_write_moves_the_version_even_when_link_manager_fails() -> None:
    async def scenario() -> None:
        cache = ListCache(30.0, 1 << 20, None)
        # Nothing listens on this port: the save fails as a timed-out one may, after
        # link-manager might have made it.
        url = f"http://127.0.0.1:{free_port()}"
        client = VersionedLinkClient(url, "caller-token-0123456789", cache=cache, read_retries=0)
        try:
            before = cache.version("erin", "-")
            with pytest.raises(Unavailable):
                await client.delete_link("erin", "https://example.com/")
            assert cache.version("erin", "-") != before
            moved = cache.version("erin", "-")
            with pytest.raises(Unavailable):
                await client.list_links_json("erin")
            assert cache.version("erin", "-") == moved  # reads change nothing
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_a_write_cancelled_twice_still_moves_the_shared_version(redis: RedisServer) -> None:
    """A request cancelled while link-manager works on it (the caller went away), and
    again while the version is being moved (the gateway shutting down)."""

    async def scenario() -> None:
        accepted = asyncio.Event()

        async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set()
            await reader.read()  # until the client closes
            writer.close()

        server = await asyncio.start_server(never_answers, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        # A fresh connection pool: moving the version first connects to Redis, a wait
        # the second cancellation lands in.
        shared = SharedState(redis.url)
        cache = ListCache(30.0, 1 << 20, shared)
        client = VersionedLinkClient(f"http://127.0.0.1:{port}", "caller-token-0123456789", cache=cache)
        try:
            request = asyncio.create_task(client.delete_link("gina", "https://example.com/"))
            await accepted.wait()
            request.cancel()
            await asyncio.sleep(0)  # the request's finally starts moving the version
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            for _ in range(100):
                if await shared.redis.get(version_key("gina")) is not None:
                    break
                await asyncio.sleep(0.02)
            assert await shared.redis.get(version_key("gina")) in ("1", b"1")
        finally:
            await client.aclose()
            await shared.aclose()
            server.close()

    asyncio.run(scenario())
