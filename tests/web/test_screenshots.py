"""Every page at desktop and phone width: screenshots kept under test-artifacts/web/,
and on a phone nothing wider than the screen."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.e2e.conftest import RunningSystem, unique
from tests.web.conftest import DESKTOP, PHONE, Browse, screenshot, sign_in

SAMPLE_LINKS: list[dict[str, object]] = [
    {
        "url": "https://docs.python.org/3/library/asyncio.html",
        "title": "asyncio — Asynchronous I/O",
        "description": "The standard library reference for async/await, tasks and event loops.",
        "tags": ["python", "async", "reference"],
    },
    {
        "url": "https://microservices.io/patterns/data/transactional-outbox.html",
        "title": "Pattern: Transactional outbox",
        "description": "Write the event in the same transaction as the change; publish it afterwards.",
        "tags": ["architecture", "events", "microservices"],
    },
    {"url": "https://docs.nats.io/nats-concepts/jetstream", "title": "JetStream", "tags": ["nats", "events"]},
    {
        "url": "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
        "title": "Network Policies",
        "description": "Default deny, then allow only the traffic each service needs.",
        "tags": ["kubernetes", "security"],
        "private": True,
    },
    {
        "url": "https://github.com/sissbruecker/linkding",
        "title": "linkding: a self-hosted bookmark manager",
        "tags": ["bookmarks", "self-hosted"],
    },
    {
        "url": "https://htmx.org/docs/",
        "title": "htmx",
        "description": "High power tools for HTML.",
        "tags": ["web"],
    },
]


def seed(system: RunningSystem, pages: str) -> tuple[str, str]:
    """A user with links, a follower and news: what a page looks like in use."""
    me, friend = unique("ada"), unique("grace")
    mine, theirs = system.login(me), system.login(friend)
    with system.client(theirs) as api:
        assert api.post("/v1/following", json={"followed": me}).status_code == 204
    with system.client(mine) as api:
        assert api.post("/v1/following", json={"followed": friend}).status_code == 204
        for link in SAMPLE_LINKS:
            assert api.post("/v1/links", json=link).status_code == 201
        assert (
            api.post("/v1/links", json={"url": f"{pages}/title/local", "tags": ["local"]}).status_code == 201
        )
        assert api.post("/v1/tokens", json={"name": "feed reader", "scope": "feeds"}).status_code == 201
    with system.client(theirs) as api:
        for n, title in enumerate(("Designing Data-Intensive Applications", "The Twelve-Factor App")):
            assert (
                api.post("/v1/links", json={"url": f"https://example.com/{n}", "title": title}).status_code
                == 201
            )
    return me, friend


PAGES = {
    "signin": "/signin",
    "links": "/",
    "links-search": "/?title_regex=%5Epattern&tags=events",
    "link-new": "/links/new?url=https%3A%2F%2Fexample.com%2Fa&title=An%20article&description=Selected",
    "link-edit": "/links/edit?url=" + quote(str(SAMPLE_LINKS[0]["url"]), safe=""),
    "tags": "/tags",
    "people": "/people",
    "news": "/news",
    "import": "/import",
    "tokens": "/tokens",
    "bookmarklet": "/bookmarklet",
    "not-found": "/links/edit?url=https%3A%2F%2Fexample.com%2Fnone",
}


@pytest.mark.parametrize(("width", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_every_page_at_desktop_and_phone_width(
    system: RunningSystem, pages: str, browse: Browse, width: str, viewport: dict[str, int]
) -> None:
    me, _ = seed(system, pages)
    page = browse(f"shots-{width}", viewport=viewport)
    page.goto(f"{system.gateway}/signin")
    screenshot(page, f"signin-{width}")
    sign_in(page, system.gateway, me)
    page.wait_for_timeout(1500)  # let the news and the link checker catch up
    for name, path in PAGES.items():
        if name == "signin":
            continue
        page.goto(f"{system.gateway}{path}")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").count() == 1, name
        assert page.locator("main#main").count() == 1, name
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than the {width} screen"
        screenshot(page, f"{name}-{width}")
    assert page.console_errors == []  # type: ignore[attr-defined]
