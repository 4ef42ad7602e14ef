"""The import benchmark of `make bench`: a 10,000-bookmark file imported through the
gateway, with link-manager on SQLite and then on Postgres, while another user keeps
saving links one after another (their latency is what an import must not stall), and
how long the import's events take to reach a follower's feed."""

from __future__ import annotations

import asyncio
import contextlib
import io
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from delinkcious.localrun import LocalSystem
from tests.databases import fresh_postgres_database, postgres_server
from tests.servers import NatsServer, RedisServer, isolated_system_env

BOOKMARKS = 10_000
# How long to wait for the import's events to reach the follower's feed.
DELIVERY_PATIENCE = 240.0


def bookmark_file(count: int = BOOKMARKS) -> bytes:
    """Firefox-shaped: folders, tags, descriptions; hosts that never resolve, so the
    link checker's verdicts come fast and leave the machine alone."""
    lines = ["<!DOCTYPE NETSCAPE-Bookmark-file-1>", "<TITLE>Bookmarks</TITLE>", "<DL><p>"]
    for folder in range(count // 500):
        lines += [f"<DT><H3>Folder {folder}</H3>", "<DL><p>"]
        for i in range(folder * 500, folder * 500 + 500):
            lines.append(
                f'<DT><A HREF="https://bench-import.invalid/{i}" ADD_DATE="{1_500_000_000 + i}"'
                f' TAGS="bench,tag{i % 37}">Bookmark number {i} &amp; friends</A>'
            )
            lines.append(f"<DD>The description of bookmark {i}")
        lines.append("</DL><p>")
    lines.append("</DL><p>")
    return "\n".join(lines).encode()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@contextlib.contextmanager
def link_database(kind: str) -> Iterator[dict[str, str]]:
    if kind == "sqlite":
        yield {}
        return
    with postgres_server() as admin, fresh_postgres_database(admin) as url:
        yield {"LINK_MANAGER_DATABASE_URL": url}


async def _saves_while(
    client: httpx.AsyncClient, headers: dict[str, str], done: asyncio.Event, phase: str
) -> list[float]:
    latencies: list[float] = []
    i = 0
    while not done.is_set():
        i += 1
        started = time.perf_counter()
        url = f"https://bench-other.invalid/{phase}/{i}"
        r = await client.post("/v1/links", json={"url": url}, headers=headers)
        latencies.append(time.perf_counter() - started)
        if r.status_code != 201:
            raise RuntimeError(f"another user's save failed: {r.status_code} {r.text}")
    return latencies


async def _in_feed(client: httpx.AsyncClient, headers: dict[str, str], url: str, pages: int) -> bool:
    token = ""
    for _ in range(pages):
        params: dict[str, str | int] = {"page_size": 100}
        if token:
            params["start_token"] = token
        page = (await client.get("/v1/news", params=params, headers=headers)).json()
        if any(e["url"] == url for e in page["events"]):
            return True
        token = page["next_page_token"]
        if not token:
            return False
    return False


async def measure(kind: str) -> str:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    body = bookmark_file()
    try:
        with link_database(kind) as database_env:
            env = isolated_system_env(nats, redis, LOG_LEVEL="WARNING", **database_env)
            data = Path(tempfile.mkdtemp(prefix="dlk-bench-import-"))
            system = LocalSystem(data, env=env, out=io.StringIO())
            gateway = system.start()["api-gateway"]
            try:
                return await _measure(gateway, kind, body)
            finally:
                system.stop()
    finally:
        nats.close()
        redis.close()


async def _measure(gateway: str, kind: str, body: bytes) -> str:
    async with httpx.AsyncClient(base_url=gateway, timeout=300) as client:
        headers = {}
        for name in ("importer", "follower", "other"):
            r = await client.post("/login/dev", json={"username": f"bench-{name}"})
            headers[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        await client.post("/v1/following", json={"followed": "bench-importer"}, headers=headers["follower"])
        idle_done = asyncio.Event()
        idle_task = asyncio.create_task(_saves_while(client, headers["other"], idle_done, "idle"))
        await asyncio.sleep(3)
        idle_done.set()
        idle = await idle_task

        done = asyncio.Event()
        saves = asyncio.create_task(_saves_while(client, headers["other"], done, "import"))
        started = time.perf_counter()
        r = await client.post(
            "/v1/import", content=body, headers={**headers["importer"], "Content-Type": "text/html"}
        )
        import_seconds = time.perf_counter() - started
        done.set()
        during = await saves
        result = r.json()
        if r.status_code != 200 or result["created"] != BOOKMARKS:
            raise RuntimeError(f"import failed: {r.status_code} {r.text[:500]}")
        # The file's last bookmark is the import's last event: once it is in the
        # follower's feed, every event of the import has been delivered (in order). The
        # events of one batch share a timestamp, so it is among the newest 300.
        last = f"https://bench-import.invalid/{BOOKMARKS - 1}"
        delivered = "n/a"
        while time.perf_counter() - started < DELIVERY_PATIENCE:
            if await _in_feed(client, headers["follower"], last, pages=3):
                delivered = f"{time.perf_counter() - started:.0f}"
                break
            await asyncio.sleep(0.5)
        else:
            delivered = f"> {DELIVERY_PATIENCE:.0f}"
        started = time.perf_counter()
        exported = await client.get("/v1/export", headers=headers["importer"])
        export_seconds = time.perf_counter() - started
        if exported.text.count("<DT><A ") != BOOKMARKS:
            raise RuntimeError("the export is missing links")
    return (
        f"| {kind} | {len(body) / 2**20:.1f} MiB | {import_seconds:.1f} | {delivered} |"
        f" {export_seconds:.1f} | {statistics.median(idle) * 1000:.0f} |"
        f" {statistics.median(during) * 1000:.0f} / {percentile(during, 95) * 1000:.0f} /"
        f" {max(during) * 1000:.0f} ({len(during)}) |"
    )


async def report() -> str:
    rows = []
    for kind in ("sqlite", "postgres"):
        rows.append(await measure(kind))
        print(rows[-1], flush=True)  # each row as soon as it is measured
    return "\n".join(
        [
            f"## Import ({BOOKMARKS} bookmarks)",
            "",
            f"`POST /v1/import` of a {BOOKMARKS}-bookmark Firefox-style file (folders, tags,"
            " descriptions) into an empty account, with link-manager on each database; meanwhile"
            " another user saves links one after another. Delivered: from the start of the import"
            " until its last event is in a follower's feed (events go out in order and are"
            " delivered up to 20 at once, so all are in; waited for at most 240 s). Export: `GET /v1/export`"
            " of the 10,000 links.",
            "",
            "| link-manager database | file | import s | delivered s | export s |"
            " other user's save, idle: p50 ms | during the import: p50 / p95 / max ms (saves) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )


if __name__ == "__main__":
    print(asyncio.run(report()))
