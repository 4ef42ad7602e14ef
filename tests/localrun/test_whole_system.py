"""The whole system as `make run` starts it: NATS, Redis, every service and the gateway,
used over the public API only, then stopped and started again on the same data."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx

from delinkcious.localrun import SERVICES, LocalSystem
from delinkcious.localrun.__main__ import quickstart
from tests.localrun.helpers import caller_env, group_running, pinned_ports, running

T = TypeVar("T")
TITLE = "Notes on key-based pagination"
# A safety net so a broken system fails the test instead of hanging it; the spec's
# target for news is one second, and nothing here waits longer than it must.
PATIENCE = 30.0


class Tee(io.StringIO):
    """Keeps the system's output for assertions and shows it when the test fails."""

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        return super().write(text)


@contextmanager
def web_page(title: str) -> Iterator[str]:
    """An HTML page with a <title>, served from this process, for the link checker to read."""
    body = f"<!doctype html><html><head><title>{title}</title></head><body>hi</body></html>".encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/notes"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def eventually(read: Callable[[], T], good: Callable[[T], bool], what: str) -> T:
    """`read()` once `good` holds for it; polled, since events cross NATS first."""
    deadline = time.monotonic() + PATIENCE
    while True:
        value = read()
        if good(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r}")
        time.sleep(0.1)


def start(data_dir: Path) -> tuple[LocalSystem, httpx.Client, Tee]:
    # Every port pinned to a free one: the test stays off 8080, 5000 and the like
    # that a developer's own `make run` may hold. The brokers are the runner's own.
    out = Tee()
    system = LocalSystem(data_dir, env=caller_env(**pinned_ports()), out=out)
    try:
        urls = system.start()
    except BaseException:
        system.stop()
        raise
    assert list(urls) == [s.name for s in SERVICES]
    return system, httpx.Client(base_url=urls["api-gateway"], trust_env=False, timeout=10), out


def login(api: httpx.Client, username: str) -> dict[str, str]:
    answer = api.post("/login/dev", json={"username": username})
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["username"] == username
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def links_of(api: httpx.Client, who: dict[str, str]) -> list[dict[str, Any]]:
    answer = api.get("/v1/links", headers=who)
    assert answer.status_code == 200, answer.text
    links: list[dict[str, Any]] = answer.json()["links"]
    return links


def news_of(api: httpx.Client, who: dict[str, str]) -> list[dict[str, Any]]:
    answer = api.get("/v1/news", headers=who)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def mentioning(text: str) -> set[int]:
    """Live processes (other than this one) whose command line or environment holds `text`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue  # gone, or not ours
        if text.encode() in seen and running(int(entry.name)):
            found.add(int(entry.name))
    return found


def stop_and_check_nothing_is_left(system: LocalSystem, data_dir: Path, out: Tee) -> None:
    pids = system.pids
    assert set(pids) == {s.name for s in SERVICES}
    # Sanity check of the check: nats-server's command line and the databases'
    # settings name the data folder (redis-server rewrites its command line).
    assert {pids["nats"], pids["link-manager"], pids["user-manager"]} <= mentioning(str(data_dir))
    system.stop()
    for name, pid in pids.items():
        assert not running(pid), name
        assert not group_running(pid), name
    assert mentioning(str(data_dir)) == set()
    # Every process stopped on SIGTERM, and the services still had NATS while they
    # shut down (it is stopped after them).
    output = out.getvalue()
    assert "killing it" not in output
    assert "survived SIGKILL" not in output
    assert "drain failed" not in output


def test_the_whole_system_runs_keeps_its_data_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with web_page(TITLE) as page:
        system, api, out = start(data_dir)
        try:
            ann, ben = login(api, "ann"), login(api, "ben")
            assert api.post("/v1/following", headers=ben, json={"followed": "ann"}).status_code == 204
            added = api.post("/v1/links", headers=ann, json={"url": page, "tags": ["Paging"]})
            assert added.status_code == 201, added.text
            assert added.json()["status"] == "pending"

            news = eventually(lambda: news_of(api, ben), bool, "ben's news")
            assert [(e["event_type"], e["username"], e["url"]) for e in news] == [("link_added", "ann", page)]

            [link] = eventually(
                lambda: links_of(api, ann), lambda ls: ls[0]["status"] != "pending", "ann's link check"
            )
            assert (link["status"], link["title"], link["tags"]) == ("valid", TITLE, ["paging"])
            created = api.get("/v1/me", headers=ann).json()["created_at"]

            # The quickstart `make run` prints works as printed.
            script = "\n".join(ln for ln in quickstart(str(api.base_url)) if ln.startswith("  "))
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                env=caller_env(),
                capture_output=True,
                text=True,
                timeout=PATIENCE,
            )
            assert done.returncode == 0, done.stderr
            assert '"url":"https://example.com"' in done.stdout
            bob = login(api, "bob")
            eventually(lambda: news_of(api, bob), bool, "bob's news after the quickstart")
        finally:
            stop_and_check_nothing_is_left(system, data_dir, out)
            api.close()

    # Users, links, follows (SQLite) and feeds (Redis) are all still there.
    system, api, out = start(data_dir)
    try:
        ann, ben = login(api, "ann"), login(api, "ben")
        assert api.get("/v1/me", headers=ann).json()["created_at"] == created
        [link] = links_of(api, ann)
        assert (link["url"], link["status"], link["title"]) == (page, "valid", TITLE)
        assert api.get("/v1/following", headers=ben).json() == {"following": ["ann"]}
        assert [e["url"] for e in news_of(api, ben)] == [page]
    finally:
        stop_and_check_nothing_is_left(system, data_dir, out)
        api.close()
