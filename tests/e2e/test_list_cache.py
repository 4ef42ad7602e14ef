"""The gateway's list cache with every process running: a checked page is answered
again from the gateway, and every kind of change through the gateway (the API, the
Pinboard API, an import) shows in the very next list."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import cache_lookups, eventually

LOOKUPS = "delinkcious_gateway_list_cache_lookups_total"


def lookups(system: RunningSystem, outcome: str) -> float:
    return cache_lookups(system.gateway, LOOKUPS, outcome)


def links(c: httpx.Client) -> list[dict[str, Any]]:
    response = c.get("/v1/links", params={"page_size": 50})
    assert response.status_code == 200, response.text
    page: list[dict[str, Any]] = response.json()["links"]
    return page


def checked(c: httpx.Client) -> list[dict[str, Any]]:
    return eventually(lambda: links(c), lambda page: all(link["status"] != "pending" for link in page), 30)


def test_a_checked_page_is_answered_again_until_the_next_change(system: RunningSystem, pages: str) -> None:
    username = unique("cached")
    token = system.login(username)
    with system.client(token) as c:
        url = f"{pages}/title/cache"
        assert c.post("/v1/links", json={"url": url, "tags": ["one"]}).status_code == 201

        # While the link is pending every list asks link-manager: the verdict shows at once.
        misses = lookups(system, "miss")
        assert links(c)[0]["status"] in ("pending", "valid")
        assert lookups(system, "miss") > misses
        page = checked(c)
        assert page[0]["status"] == "valid"

        hits = lookups(system, "hit")
        assert links(c) == page
        assert links(c) == page
        assert lookups(system, "hit") >= hits + 2

        assert c.put("/v1/links", json={"url": url, "title": "Renamed"}).status_code == 200
        assert checked(c)[0]["title"] == "Renamed"

        assert c.put("/v1/tags/one", json={"name": "two"}).status_code == 200
        assert checked(c)[0]["tags"] == ["two"]

        pinboard = {"auth_token": f"{username}:{token}", "format": "json"}
        added = c.get(
            "/pinboard/v1/posts/add", params={**pinboard, "url": f"{pages}/title/pin", "description": "Pin"}
        )
        assert added.status_code == 200, added.text
        assert {link["url"] for link in links(c)} == {url, f"{pages}/title/pin"}

        assert c.delete("/v1/links", params={"url": url}).status_code == 204
        assert [link["url"] for link in links(c)] == [f"{pages}/title/pin"]

        bookmarks = (
            "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<TITLE>Bookmarks</TITLE>\n<DL><p>\n"
            f'<DT><A HREF="{pages}/title/imported" TAGS="in">Imported</A>\n</DL><p>\n'
        )
        imported = c.post("/v1/import", content=bookmarks, headers={"content-type": "text/html"})
        assert imported.status_code == 200, imported.text
        assert {link["url"] for link in links(c)} == {f"{pages}/title/pin", f"{pages}/title/imported"}
