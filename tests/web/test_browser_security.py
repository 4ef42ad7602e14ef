"""In chromium: hostile input renders as text (no script runs, no dangerous link), and a
form on another origin cannot make the signed-in browser change anything."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Dialog, expect

from tests.e2e.conftest import RunningSystem, unique
from tests.web.conftest import Browse, sign_in

# What each field holds, and what the page must show for it: the same characters, as text.
ESCAPING_TABLE = [
    ("title", '<script>alert("title")</script>'),
    ("title", "<img src=x onerror=alert('img')>"),
    ("description", "</p><svg/onload=alert('svg')><b>not bold</b>"),
    ("description", "\"><iframe src=javascript:alert('frame')>"),
    ("tag", "<script>tag</script>"),
    ("tag", '"onmouseover=alert(1)'),
    ("url", 'https://example.com/"><script>alert("url")</script>'),
    ("url", "https://example.com/?q=<img/src=x/onerror=alert(2)>&x='y'"),
]


def _record(dialog: Dialog, seen: list[str]) -> None:
    seen.append(dialog.message)
    dialog.dismiss()


def test_hostile_input_is_shown_as_text_and_runs_nothing(system: RunningSystem, browse: Browse) -> None:
    author, reader = unique("author"), unique("reader")
    token = system.login(author)
    with system.client(system.login(reader)) as api:
        assert api.post("/v1/following", json={"followed": author}).status_code == 204
    with system.client(token) as api:
        for n, (field, value) in enumerate(ESCAPING_TABLE):
            link = {"url": f"https://example.com/{n}", "title": f"entry {n}", "tags": [f"t{n}"]}
            if field == "tag":
                link["tags"] = [value]
            else:
                link[field] = value
            answer = api.post("/v1/links", json=link)
            assert answer.status_code == 201, answer.text

    dialogs: list[str] = []
    for name, path, who in (("author", "/", author), ("reader", "/news", reader)):
        page = browse(name)
        page.on("dialog", lambda dialog: _record(dialog, dialogs))
        sign_in(page, system.gateway, who)
        page.goto(f"{system.gateway}{path}")
        page.wait_for_load_state("networkidle")
        if path == "/":
            for field, value in ESCAPING_TABLE:
                shown = f"#{value.lower()}" if field == "tag" else value
                expect(page.get_by_text(shown, exact=True).first).to_be_visible()
        else:
            expect(page.get_by_text('<script>alert("title")</script>', exact=True)).to_be_visible()
        for element in page.locator("a[href]").all():
            href = element.get_attribute("href") or ""
            assert href.startswith(("/", "#", "http://", "https://")), href
        # Only our two script files, no injected element, no inline handler.
        assert page.locator("script").count() == 2
        assert page.locator("iframe, svg[onload], img[onerror], [onmouseover]").count() == 0
        page.mouse.move(10, 10)
        for tag in page.locator(".tag").all():
            tag.hover()
        assert page.console_errors == []  # type: ignore[attr-defined]
    assert dialogs == []


class _Attacker(BaseHTTPRequestHandler):
    """Another origin (another port): a page whose form posts to the gateway at once."""

    gateway = ""

    def do_GET(self) -> None:
        body = f"""<!doctype html><title>Win a prize</title>
<form id="f" method="post" action="{self.gateway}/links">
<input name="url" value="https://evil.example/planted"><input name="csrf_token" value="guessed"></form>
<script>document.getElementById("f").submit()</script>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker(system: RunningSystem) -> Iterator[str]:
    handler = type("Attacker", (_Attacker,), {"gateway": system.gateway})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_cross_site_form_is_refused(system: RunningSystem, browse: Browse, attacker: str) -> None:
    victim = unique("victim")
    page = browse("victim")
    sign_in(page, system.gateway, victim)
    # Another port is the same *site* to the browser, so the SameSite=Lax cookie does go
    # along: the origin check and the CSRF token are what refuse it.
    with page.expect_response(f"{system.gateway}/links") as posted:
        page.goto(attacker)
    assert posted.value.status == 403
    expect(page.get_by_text("cross-site request refused")).to_be_visible()
    with system.client(system.login(victim)) as api:
        assert api.get("/v1/links").json()["links"] == []
