"""How fast a save reaches the feeds, through the gateway's public API:
  - propagation: saves at a steady rate (open loop) by several authors, one reader who
    follows them all polling its news; per link, from the save's 201 to the first poll
    that shows it;
  - fan-out: one author with many followers saves one link; from the 201 until the
    last follower created (and a sample of the others) sees it.
Every poll is timed at its answer, so a figure includes up to one poll interval and
one news read: it errs on the slow side."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from scripts.bench_open import percentile

POLL_INTERVAL = 0.01
GIVE_UP = 15.0  # seconds after the last save: a link not seen by then is missing
CALLER_HEADER = "Delinkcious-Caller-Token"


async def login(session: aiohttp.ClientSession, username: str) -> dict[str, str]:
    async with session.post("/login/dev", json={"username": username}) as r:
        r.raise_for_status()
        return {"Authorization": f"Bearer {(await r.json())['access_token']}"}


async def follow(session: aiohttp.ClientSession, reader: dict[str, str], author: str) -> None:
    async with session.post("/v1/following", json={"followed": author}, headers=reader) as r:
        r.raise_for_status()


async def news_urls(session: aiohttp.ClientSession, reader: dict[str, str], page: int = 20) -> list[str]:
    async with session.get("/v1/news", params={"page_size": page}, headers=reader) as r:
        r.raise_for_status()
        return [e["url"] for e in (await r.json())["events"]]


@dataclass
class Propagation:
    rate: float
    authors: int
    delays_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    missing: int = 0
    polls: int = 0
    achieved_rate: float = 0.0
    polling_seconds: float = 0.0

    @property
    def poll_gap_ms(self) -> float:
        """The mean time between polls: the resolution of the figures."""
        return self.polling_seconds / self.polls * 1000 if self.polls else math.nan

    @property
    def saved(self) -> int:
        return self.statuses.get("201", 0)

    def p(self, q: float) -> float:
        return percentile(self.delays_ms, q)


async def propagation(gateway: str, rate: float, seconds: float, authors: int = 5) -> Propagation:
    run = uuid.uuid4().hex[:6]
    result = Propagation(rate=rate, authors=authors)
    async with aiohttp.ClientSession(base_url=gateway, timeout=aiohttp.ClientTimeout(total=30)) as session:
        names = [f"bench-feed-{run}-a{i}" for i in range(authors)]
        author_auth = [await login(session, name) for name in names]
        reader = await login(session, f"bench-feed-{run}-reader")
        for name in names:
            await follow(session, reader, name)
        saved: dict[str, float] = {}
        seen: dict[str, float] = {}
        total = max(1, int(rate * seconds))
        saving = True

        async def save(i: int) -> None:
            url = f"https://example.com/feed/{run}/{i}"
            async with session.post("/v1/links", json={"url": url}, headers=author_auth[i % authors]) as r:
                await r.read()
                result.statuses[str(r.status)] += 1
                if r.status == 201:
                    saved[url] = time.monotonic()

        async def poll() -> None:
            while saving or not saved.keys() <= seen.keys():
                # A small page often (a large one is a load of its own), and a full one
                # now and then: a link whose event comes late sits below those after it.
                urls = await news_urls(session, reader, 100 if result.polls % 25 == 0 else 20)
                now = time.monotonic()
                result.polls += 1
                for url in urls:
                    seen.setdefault(url, now)
                await asyncio.sleep(POLL_INTERVAL)

        polling_since = time.monotonic()
        poller = asyncio.create_task(poll())
        start = time.monotonic() + 0.2
        saves = []
        for i in range(total):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            saves.append(asyncio.create_task(save(i)))
        result.achieved_rate = (total - 1) / (time.monotonic() - start) if total > 1 else 0.0
        await asyncio.gather(*saves)
        saving = False
        with contextlib.suppress(TimeoutError):  # what was not seen by then is missing
            await asyncio.wait_for(poller, GIVE_UP)
        result.polling_seconds = time.monotonic() - polling_since
    # A poll can see a link before the save's 201 reaches the client: no delay then.
    result.delays_ms = [max(0.0, seen[u] - t) * 1000 for u, t in saved.items() if u in seen]
    result.missing = sum(1 for u in saved if u not in seen)
    return result


@dataclass
class FanOut:
    followers: int
    via: str
    create_seconds: float = 0.0
    last_ms: float = float("nan")  # the last follower created
    sample_ms: list[float] = field(default_factory=list)  # the sample, the last one among them
    missing: int = 0


async def _pool(jobs: list[int], concurrency: int, work: Callable[[int], Awaitable[None]]) -> None:
    queue = list(reversed(jobs))

    async def worker() -> None:
        while queue:
            await work(queue.pop())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def fan_out(
    gateway: str, social_graph: str, gateway_caller_token: str, followers: int, via: str, sample: int = 5
) -> FanOut:
    """`via` "gateway": each follower logs in and follows through the public API;
    "internal": the follows go straight to social-graph-manager as the gateway makes
    them (its caller secret), and only the sample log in."""
    run = uuid.uuid4().hex[:6]
    result = FanOut(followers=followers, via=via)
    author = f"bench-fan-{run}-author"
    names = [f"bench-fan-{run}-{i:05d}" for i in range(followers)]
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=64)
    async with (
        aiohttp.ClientSession(base_url=gateway, timeout=timeout, connector=connector) as session,
        aiohttp.ClientSession(base_url=social_graph, timeout=timeout) as internal,
    ):
        author_auth = await login(session, author)
        internal_auth = {CALLER_HEADER: gateway_caller_token}

        async def create(i: int) -> None:
            if via == "gateway":
                await follow(session, await login(session, names[i]), author)
                return
            body = {"followed": author}
            async with internal.post(f"/users/{names[i]}/following", json=body, headers=internal_auth) as r:
                r.raise_for_status()

        started = time.monotonic()
        await _pool(list(range(followers - 1)), 32, create)
        await create(followers - 1)  # the last one, after all the others
        result.create_seconds = time.monotonic() - started
        others = random.Random(followers).sample(range(followers - 1), min(sample - 1, followers - 1))
        readers = [await login(session, names[i]) for i in [followers - 1, *others]]
        url = f"https://example.com/fan/{run}"
        async with session.post("/v1/links", json={"url": url}, headers=author_auth) as r:
            r.raise_for_status()
            saved = time.monotonic()

        async def wait_for(reader: dict[str, str]) -> float:
            while time.monotonic() - saved < GIVE_UP:
                if url in await news_urls(session, reader, 5):
                    return (time.monotonic() - saved) * 1000
                await asyncio.sleep(POLL_INTERVAL)
            return float("nan")

        delays = await asyncio.gather(*(wait_for(reader) for reader in readers))
    result.last_ms = delays[0]
    result.sample_ms = [d for d in delays if d == d]
    result.missing = len(delays) - len(result.sample_ms)
    return result
