"""Compares async HTTP clients for the services' internal calls, in one run, against
the bare one-hop app (scripts/bench_baseline.py): requests/s and, what matters on a
shared machine, the client's own CPU time per request.

    .venv/bin/python -m scripts.bench_clients [--requests 3000] [--concurrency 16]

Candidates: httpx as the services used it (AsyncClient over AsyncHTTPTransport),
httpx with `import sniffio` answered from sys.modules, httpcore's pool directly,
aiohttp's ClientSession, and ServiceClient itself (over aiohttp, with its telemetry)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import httpcore
import httpx

from delinkcious.clients.base import ServiceClient
from scripts.bench_baseline import baseline_server
from tests.servers import free_port

Call = Callable[[], Awaitable[bytes]]
Candidate = Callable[[str], AbstractAsyncContextManager[Call]]


@asynccontextmanager
async def httpx_default(url: str) -> Any:
    async with httpx.AsyncClient(base_url=url, transport=httpx.AsyncHTTPTransport()) as client:

        async def call() -> bytes:
            return (await client.get("/v1/links")).content

        yield call


@asynccontextmanager
async def httpx_sniffio_cached(url: str) -> Any:
    """httpcore imports sniffio on every lock set-up; a module missing from the path is
    searched for each time, one already imported (or marked absent) is not."""
    saved = sys.modules.get("sniffio", ...)
    if "sniffio" not in sys.modules:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    try:
        async with httpx_default(url) as call:
            yield call
    finally:
        if saved is ...:
            sys.modules.pop("sniffio", None)


@asynccontextmanager
async def httpcore_pool(url: str) -> Any:
    async with httpcore.AsyncConnectionPool(max_connections=100) as pool:
        target = f"{url}/v1/links".encode()

        async def call() -> bytes:
            response = await pool.request(b"GET", target)
            return response.content

        yield call


@asynccontextmanager
async def aiohttp_session(url: str) -> Any:
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as session:

        async def call() -> bytes:
            async with session.get("/v1/links") as response:
                return await response.read()

        yield call


@asynccontextmanager
async def service_client(url: str) -> Any:
    async with ServiceClient(url, "bench-caller-token") as client:

        async def call() -> bytes:
            return (await client.request("GET", "/v1/links")).content

        yield call


CANDIDATES: dict[str, Candidate] = {
    "httpx AsyncClient (as before)": httpx_default,
    "httpx, sniffio lookup cached": httpx_sniffio_cached,
    "httpcore pool directly": httpcore_pool,
    "aiohttp ClientSession": aiohttp_session,
    "ServiceClient (with telemetry)": service_client,
}


async def measure(candidate: Candidate, url: str, requests: int, concurrency: int) -> tuple[float, float]:
    async with candidate(url) as call:
        await asyncio.gather(*(call() for _ in range(concurrency)))  # open the connections
        remaining = requests

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await call()

        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return requests / wall, cpu / requests * 1e6


async def run(requests: int, concurrency: int, rounds: int) -> None:
    with baseline_server(free_port()) as (url, _):
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in CANDIDATES}
        for _ in range(rounds):
            for name, candidate in CANDIDATES.items():
                results[name].append(await measure(candidate, url, requests, concurrency))
    print(f"| client | requests/s (best of {rounds}) | client CPU µs per request (best of {rounds}) |")
    print("| --- | --- | --- |")
    for name, samples in results.items():
        print(f"| {name} | {max(r for r, _ in samples):.0f} | {min(c for _, c in samples):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
