"""Takes the README's screenshot of the links page from the real system:
`.venv/bin/python -m tests.web.readme_screenshot [docs/web-links.png]`.

It starts the whole system as `make run` does (throwaway data), saves links through the
API (some to pages served here, which the checker finds valid; some to hosts it cannot
reach, invalid; the last ones still pending), and photographs the page in chromium."""

from __future__ import annotations

import io
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from delinkcious.localrun import LocalSystem
from tests.servers import NatsServer, RedisServer, isolated_system_env
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP

REACHABLE = [
    ("/notes/outbox", "Notes: the transactional outbox", "Write the event in the same transaction as the "
     "change; a relay publishes it afterwards.", ["architecture", "events"]),
    ("/notes/jetstream", "JetStream consumers, durable and replayable", "", ["nats", "events"]),
]  # fmt: skip
UNREACHABLE = [
    ("https://docs.python.org/3/library/asyncio.html", "asyncio — Asynchronous I/O",
     "The standard library reference for async/await, tasks and event loops.", ["python", "async"]),
]  # fmt: skip
PENDING = [
    ("https://github.com/sissbruecker/linkding", "linkding: a self-hosted bookmark manager", "",
     ["bookmarks", "self-hosted"]),
    ("https://htmx.org/docs/", "htmx documentation", "High power tools for HTML.", ["web", "htmx"]),
]  # fmt: skip


class _Notes(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><head><title>notes</title></head><body>notes</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _save(api: httpx.Client, url: str, title: str, description: str, tags: list[str]) -> None:
    answer = api.post(
        "/v1/links", json={"url": url, "title": title, "description": description, "tags": tags}
    )
    assert answer.status_code == 201, answer.text


def main(out: Path) -> None:
    notes = ThreadingHTTPServer(("127.0.0.1", 0), _Notes)
    threading.Thread(target=notes.serve_forever, daemon=True).start()
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    env = isolated_system_env(nats, redis, LINK_CHECKER_ALLOW_PRIVATE_NETWORKS="true")
    local = LocalSystem(Path(tempfile.mkdtemp()) / "data", env=env, out=io.StringIO())
    try:
        gateway = local.start()["api-gateway"]
        with httpx.Client(base_url=gateway, timeout=10) as anonymous:
            token = anonymous.post("/login/dev", json={"username": "ada"}).json()["access_token"]
        with httpx.Client(base_url=gateway, timeout=10, headers={"Authorization": f"Bearer {token}"}) as api:
            for url, title, description, tags in UNREACHABLE:
                _save(api, url, title, description, tags)
            for path, title, description, tags in REACHABLE:
                _save(api, f"http://127.0.0.1:{notes.server_address[1]}{path}", title, description, tags)
            time.sleep(3)  # the checker's verdicts
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                tempfile.mkdtemp(), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport=DESKTOP,  # type: ignore[arg-type]
            )  # fmt: skip
            page = context.pages[0]
            page.goto(f"{gateway}/signin")
            page.get_by_label("Username").fill("ada")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{gateway}/")
            with httpx.Client(
                base_url=gateway, timeout=10, headers={"Authorization": f"Bearer {token}"}
            ) as api:
                for url, title, description, tags in PENDING:
                    _save(api, url, title, description, tags)
            page.reload()  # at once: the newest are still waiting for the checker
            page.screenshot(path=str(out))
            context.close()
    finally:
        local.stop()
        nats.close()
        redis.close()
        notes.shutdown()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/web-links.png"))
