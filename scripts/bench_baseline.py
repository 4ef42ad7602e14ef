"""The bare one-hop baseline `make bench` measures next to the system: one FastAPI app
under uvicorn (uvloop, httptools, no access log, one process) that answers a fixed
page of 20 links. The route has a return annotation, so FastAPI serialises with
pydantic's compiled serializer, as a fair hop should. Every figure in the report is
also given as a ratio to this app's, measured in the same run with the same client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI
from pydantic import BaseModel


class Link(BaseModel):
    url: str
    title: str
    description: str
    tags: list[str]
    status: str
    created_at: str
    updated_at: str
    checked_at: str | None = None


class LinkPage(BaseModel):
    links: list[Link]
    next_page_token: str = ""


PAGE = LinkPage(
    links=[
        Link(
            url=f"https://example.com/articles/{i}",
            title=f"Article number {i}",
            description="A fixed description of a fixed link.",
            tags=["bench", "python"],
            status="valid",
            created_at="2026-01-01T00:00:00Z",
            updated_at="2026-01-01T00:00:00Z",
        )
        for i in range(20)
    ],
    next_page_token="bmV4dA",
)

app = FastAPI()


@app.get("/v1/links")
async def links() -> LinkPage:
    return PAGE


@contextmanager
def baseline_server(port: int) -> Iterator[tuple[str, int]]:
    """Serves the app in its own process; yields its URL and pid."""
    with serve_app("scripts.bench_baseline:app", port, "the baseline app") as served:
        yield served


@contextmanager
def serve_app(app: str, port: int, what: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """`app` (module:attribute) under uvicorn as the bare hop runs (uvloop, httptools, no
    access log, one process), once it answers `GET /v1/links`; yields its URL and pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
         "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
         "--log-level", "warning"],
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/v1/links", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)
