"""The pages over plain HTTP (httpx, no browser): the session cookie, CSRF refusals,
security headers, escaping of hostile input, and safe redirects."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from api_gateway.web.pages import linkable, local_path
from tests.e2e.conftest import RunningSystem, unique

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def browser(system: RunningSystem) -> httpx.Client:
    # What a browser sends with a same-origin form post.
    return httpx.Client(base_url=system.gateway, timeout=10, headers={"Accept": "text/html"})


def web_sign_in(client: httpx.Client, username: str) -> str:
    """Signs in through the development form; returns the token of the signed-in pages."""
    page = client.get("/signin")
    assert page.status_code == 200
    answer = client.post("/signin/dev", data={"username": username, "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


@pytest.fixture
def signed_in(system: RunningSystem) -> Iterator[tuple[httpx.Client, str, str]]:
    username = unique("web")
    with browser(system) as client:
        yield client, username, web_sign_in(client, username)


def test_session_cookie_is_httponly_lax_and_not_secure_over_http(system: RunningSystem) -> None:
    with browser(system) as client:
        page = client.get("/signin")
        answer = client.post(
            "/signin/dev", data={"username": unique("cookie"), "csrf_token": csrf_of(page.text)}
        )
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("dlk_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http here


def test_pages_need_a_session(system: RunningSystem) -> None:
    with browser(system) as client:
        for path in ("/", "/people", "/news", "/tokens", "/links/new?url=https://example.com"):
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/signin?next=%2F"), path
        assert client.get("/", headers={"HX-Request": "true"}).headers["hx-redirect"].startswith("/signin")


def test_security_headers_on_every_page(signed_in: tuple[httpx.Client, str, str]) -> None:
    client, _, _ = signed_in
    for path in (
        "/",
        "/people",
        "/news",
        "/tokens",
        "/signin",
        "/bookmarklet",
        "/links/new",
        "/static/app.css",
    ):
        answer = client.get(path)
        assert answer.status_code in (200, 303), path
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
    assert "no-store" in client.get("/tokens").headers["cache-control"]


class _Scripts(HTMLParser):
    """Every <script> and inline style or event handler in a page: there must be none
    but our own files."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.sources: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            if named.get("src"):
                self.sources.append(str(named["src"]))
            else:
                self.inline.append("script")
        if tag == "style" or "style" in named or any(name.startswith("on") for name in named):
            self.inline.append(tag)
        if tag == "a" and named.get("href"):
            self.hrefs.append(str(named["href"]))


def test_no_inline_script_or_style_and_every_asset_is_ours(signed_in: tuple[httpx.Client, str, str]) -> None:
    client, _, _ = signed_in
    for path in ("/", "/people", "/news", "/tokens", "/bookmarklet"):
        parser = _Scripts()
        parser.feed(client.get(path).text)
        assert parser.inline == [], path
        assert parser.sources and all(src.startswith("/static/") for src in parser.sources), path
    htmx = client.get("/static/htmx-2.0.11.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text
    assert "BSD" in client.get("/static/htmx-LICENSE.txt").text


def _links_of(system: RunningSystem, username: str) -> list[str]:
    token = system.login(username)
    with system.client(token) as api:
        return [link["url"] for link in api.get("/v1/links").json()["links"]]


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(
    system: RunningSystem, signed_in: tuple[httpx.Client, str, str]
) -> None:
    client, username, token = signed_in
    url = "https://example.com/forged"
    assert client.post("/links", data={"url": url}).status_code == 403
    assert client.post("/links", data={"url": url, "csrf_token": "x" + token[1:]}).status_code == 403
    # A token of another session is no good either.
    with browser(system) as other:
        other_token = web_sign_in(other, unique("other"))
    assert client.post("/links", data={"url": url, "csrf_token": other_token}).status_code == 403
    assert url not in _links_of(system, username)

    answer = client.post("/links", data={"url": url, "csrf_token": token})
    assert answer.status_code == 303
    assert url in _links_of(system, username)


def test_a_request_from_another_origin_is_refused_even_with_the_token(
    system: RunningSystem, signed_in: tuple[httpx.Client, str, str]
) -> None:
    client, username, token = signed_in
    url = "https://example.com/cross-site"
    data = {"url": url, "csrf_token": token}
    assert client.post("/links", data=data, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/links", data=data, headers={"Origin": "null"}).status_code == 403
    for site in ("cross-site", "same-site"):
        assert client.post("/links", data=data, headers={"Sec-Fetch-Site": site}).status_code == 403
    refused = client.post(
        "/people/follow",
        data={"username": "x", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    assert url not in _links_of(system, username)
    same = client.post(
        "/links", data=data, headers={"Origin": system.gateway, "Sec-Fetch-Site": "same-origin"}
    )
    assert same.status_code == 303


def test_sign_in_form_is_protected_against_login_csrf(system: RunningSystem) -> None:
    with browser(system) as client:
        client.get("/signin")
        assert client.post("/signin/dev", data={"username": "mallory"}).status_code == 403
        assert "dlk_session" not in client.cookies


def test_next_never_leaves_the_site(system: RunningSystem) -> None:
    for target in ("//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)"):
        with browser(system) as client:
            page = client.get("/signin", params={"next": target})
            answer = client.post(
                "/signin/dev",
                data={"username": unique("next"), "next": target, "csrf_token": csrf_of(page.text)},
            )
            assert answer.headers["location"] == "/", target
    assert local_path("/news?after=x") == "/news?after=x"


def test_sign_out_ends_the_session_and_needs_the_token(
    system: RunningSystem, signed_in: tuple[httpx.Client, str, str]
) -> None:
    client, _, token = signed_in
    session = client.cookies["dlk_session"]
    assert client.post("/logout").status_code == 403
    assert (
        client.post(
            "/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    answer = client.post("/logout", data={"csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/signin"
    assert 'dlk_session=""' in answer.headers["set-cookie"] and "Max-Age=0" in answer.headers["set-cookie"]
    with system.client(session) as api:
        assert api.get("/v1/me").status_code == 401  # the token itself is revoked
    assert client.get("/").status_code == 303


def test_bearer_logout_is_unchanged(system: RunningSystem) -> None:
    token = system.login(unique("bearer"))
    with system.client(token) as api:
        assert api.post("/logout").status_code == 204
        assert api.get("/v1/me").status_code == 401


def test_the_session_cookie_is_not_an_api_credential(
    system: RunningSystem, signed_in: tuple[httpx.Client, str, str]
) -> None:
    client, _, _ = signed_in
    # The REST API takes bearer tokens only: a cookie riding along grants nothing there.
    assert client.get("/v1/links").status_code == 401


HOSTILE = {
    "title": '<script>alert("t")</script><img src=x onerror=alert(1)>',
    "description": "</p><svg onload=alert(2)>&amp; \"quoted\" 'single'",
    "tags": ["<b>bold</b>", '"><script>x</script>', "javascript:alert(3)"],
    "url": "https://example.com/a\"><script>alert(4)</script>?q=<i>&x='y'",
}


def test_hostile_input_is_escaped_everywhere(
    system: RunningSystem, signed_in: tuple[httpx.Client, str, str]
) -> None:
    client, username, _ = signed_in
    token = system.login(username)
    with system.client(token) as api:
        created = api.post("/v1/links", json=HOSTILE)
        assert created.status_code == 201, created.text
    html = client.get("/").text
    for raw in ("<script>alert", "<img src=x", "<svg onload", "<b>bold</b>", '"><script>'):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html
    assert "&lt;svg onload=alert(2)&gt;&amp;amp;" in html
    parser = _Scripts()
    parser.feed(html)
    assert parser.inline == []
    assert not [h for h in parser.hrefs if h.lower().startswith(("javascript:", "data:", "vbscript:"))]
    edit = client.get("/links/edit", params={"url": HOSTILE["url"]}).text
    assert "<script>alert" not in edit and "&lt;script&gt;alert(4)" in edit

    # Typed into the forms and echoed back: a username, a bookmarklet's prefill.
    follow = client.post(
        "/people/follow", data={"username": "<script>alert(5)</script>", "csrf_token": csrf_of(html)}
    )
    assert follow.status_code == 400 and "<script>alert(5)" not in follow.text
    prefill = client.get(
        "/links/new", params={"url": "javascript:alert(6)", "title": "<script>alert(7)</script>"}
    )
    assert "<script>alert(7)" not in prefill.text
    assert 'href="javascript:alert(6)' not in prefill.text
    refused = client.post("/links", data={"url": "javascript:alert(6)", "csrf_token": csrf_of(html)})
    assert refused.status_code == 400 and "http or https URL" in refused.text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/", True),
        ("HTTP://example.com", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:x", False),
        ("//example.com", False),
        ("http:/relative", False),
        ("", False),
    ],
)
def test_only_http_urls_are_linkable(url: str, expected: bool) -> None:
    assert linkable(url) is expected
