"""The floor of any gateway read, measured next to the bare hop: two bare hops in a
row. A front FastAPI app (uvicorn with uvloop and httptools, no access log, one
process, as the bare hop runs) forwards `GET /v1/links` over a kept-alive aiohttp
connection (the services' internal client) to the bare hop app and passes its bytes
back unparsed. No authentication, rate limit, database, log line, span or metric: a
read through the gateway does all of this work and more, so it can reach no more of
the bare hop's rate than this pair does."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import aiohttp
from fastapi import FastAPI, Request, Response

from scripts.bench_baseline import serve_app

BACKEND_ENV = "BENCH_FLOOR_BACKEND"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        app.state.session = session
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/v1/links")
async def links(request: Request) -> Response:
    session: aiohttp.ClientSession = request.app.state.session
    async with session.get(f"{os.environ[BACKEND_ENV]}/v1/links") as answer:
        body = await answer.read()
        return Response(body, status_code=answer.status, media_type="application/json")


@contextmanager
def two_hop_server(port: int, backend_url: str) -> Iterator[tuple[str, int]]:
    """Serves the front app in its own process, forwarding to `backend_url`; yields
    its URL and pid."""
    with serve_app(
        "scripts.bench_floor:app", port, "the two-hop floor app", {BACKEND_ENV: backend_url}
    ) as served:
        yield served
