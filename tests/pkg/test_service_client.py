"""ServiceClient over real HTTP (a uvicorn server on a free port): the query encoding
callers rely on, error bodies turned back into exceptions, a body read line by line as
it arrives, and one metric sample per attempt (reads retried once, writes never)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import REGISTRY

from delinkcious.callers import CALLER_TOKEN_HEADER
from delinkcious.clients.base import ServiceClient
from delinkcious.errors import NotFound, Unavailable
from tests.servers import free_port, wait_for_port

app = FastAPI()


@app.get("/echo")
async def echo(request: Request) -> dict[str, str]:
    return {"query": request.url.query, "caller": request.headers.get(CALLER_TOKEN_HEADER, "")}


@app.get("/missing")
async def missing() -> JSONResponse:
    return JSONResponse({"error": {"code": "not_found", "message": "no such link"}}, status_code=404)


@app.get("/lines")
async def lines() -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        # A line split across chunks, and a last line without its newline.
        for chunk in (b'{"n": 1}\n{"n"', b": 2}\n", b'{"n": 3}'):
            yield chunk
            await asyncio.sleep(0.01)

    return StreamingResponse(body(), media_type="application/x-ndjson")


class ProbeClient(ServiceClient):
    service = "client-probe"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def samples(method: str, status: str) -> float:
    labels = {"target": "client-probe", "method": method, "route": "/gone", "status": status}
    return REGISTRY.get_sample_value("http_client_requests_total", labels) or 0.0


async def test_query_encoding_and_caller_token(server_url: str) -> None:
    async with ProbeClient(server_url, "probe-token") as client:
        response = await client.request("GET", "/echo", params={"tag": ["a b", "c"], "private": True})
    assert response.json() == {"query": "tag=a+b&tag=c&private=true", "caller": "probe-token"}


async def test_an_error_body_becomes_the_callee_exception(server_url: str) -> None:
    async with ProbeClient(server_url, "t") as client:
        with pytest.raises(NotFound, match="no such link"):
            await client.request("GET", "/missing")
        with pytest.raises(NotFound, match="no such link"):
            [line async for line in client.stream_lines("GET", "/missing")]


async def test_stream_lines_yields_each_line_as_sent(server_url: str) -> None:
    async with ProbeClient(server_url, "t") as client:
        got = [line async for line in client.stream_lines("GET", "/lines")]
    assert got == [b'{"n": 1}', b'{"n": 2}', b'{"n": 3}']


async def test_one_sample_per_attempt_reads_retried_writes_not() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    get_before, post_before = samples("GET", "error"), samples("POST", "error")
    async with ProbeClient(closed, "t", read_retries=1) as client:
        with pytest.raises(Unavailable, match="unreachable"):
            await client.request("GET", "/gone")
        with pytest.raises(Unavailable, match="unreachable"):
            await client.request("POST", "/gone", json={"a": 1})
    assert samples("GET", "error") - get_before == 2
    assert samples("POST", "error") - post_before == 1
