"""A user's journey through the public API only, with every process running."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import all_pages, eventually, news


def links_of(system: RunningSystem, token: str, **params: Any) -> list[dict[str, Any]]:
    with system.client(token) as c:
        return all_pages(c, "/v1/links", "links", **params)


def test_two_users_follow_save_check_read_and_log_out(system: RunningSystem, pages: str) -> None:
    alice, bob = unique("alice"), unique("bob")
    a, b = system.login(alice), system.login(bob)
    with system.client(b) as c:
        assert c.post("/v1/following", json={"followed": alice}).status_code == 204
        assert c.get("/v1/following").json() == {"following": [alice]}
    with system.client(a) as c:
        assert c.get("/v1/followers").json() == {"followers": [bob]}
        me = c.get("/v1/me").json()
        assert me["username"] == alice and me["created_at"].endswith("Z")
        for path in ("/title", "/missing", "/plain"):
            response = c.post("/v1/links", json={"url": pages + path, "tags": ["Journey"]})
            assert response.status_code == 201, response.text
            assert response.json()["status"] == "pending"

    with system.client(b) as c:
        events = eventually(lambda: news(c), lambda e: len(e) == 3, within=5)
    assert {e["url"] for e in events} == {pages + p for p in ("/title", "/missing", "/plain")}
    assert all(e["event_type"] == "link_added" and e["username"] == alice for e in events)

    def checked() -> dict[str, dict[str, Any]]:
        return {link["url"]: link for link in links_of(system, a)}

    links = eventually(checked, lambda ls: all(x["status"] != "pending" for x in ls.values()), within=20)
    assert links[pages + "/title"]["status"] == "valid"
    assert links[pages + "/title"]["title"] == "A Page & Its Title"  # filled by the checker
    assert links[pages + "/missing"]["status"] == "invalid"
    assert links[pages + "/plain"]["status"] == "valid"
    assert links[pages + "/plain"]["title"] == ""
    assert all(x["checked_at"] and x["tags"] == ["journey"] for x in links.values())

    with system.client(a) as c:
        updated = c.put(
            "/v1/links",
            json={"url": pages + "/plain", "add_tags": ["Extra", "more"], "remove_tags": ["journey"]},
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["tags"] == ["extra", "more"]
        assert c.put("/v1/links", json={"url": pages + "/plain", "remove_tags": ["more"]}).json()["tags"] == [
            "extra"
        ]
        assert c.delete("/v1/links", params={"url": pages + "/missing"}).status_code == 204
        assert c.delete("/v1/links", params={"url": pages + "/missing"}).status_code == 404
    assert {x["url"] for x in links_of(system, a)} == {pages + "/title", pages + "/plain"}
    with system.client(b) as c:
        kinds = eventually(lambda: [e["event_type"] for e in news(c)], lambda k: len(k) == 6, within=5)
        assert kinds[:3] == ["link_deleted", "link_updated", "link_updated"]

    with system.client(a) as c:
        assert c.post("/logout").status_code == 204
        after = c.get("/v1/me")
        assert after.status_code == 401 and after.json()["error"]["code"] == "unauthenticated"
        assert c.post("/logout").status_code == 401
    with system.client() as c:  # the book's header works too
        assert c.get("/v1/me", headers={"Access-Token": b}).json()["username"] == bob


def test_250_links_page_with_every_filter(system: RunningSystem) -> None:
    token = system.login(unique("pager"))
    saved: list[dict[str, Any]] = []
    with system.client(token) as c:
        for i in range(250):
            link = {
                "url": f"https://{'docs' if i % 3 == 0 else 'blog'}.example.org/post/{i}",
                "title": f"{'Python' if i % 5 == 0 else 'Go'} note {i}",
                "description": "about testing" if i % 7 == 0 else "misc",
                "tags": [t for t, on in (("even", i % 2 == 0), ("five", i % 5 == 0), ("all", True)) if on],
            }
            assert c.post("/v1/links", json=link).status_code == 201
            saved.append(link)
    newest_first = list(reversed(saved))

    def expect(pred: Any) -> list[str]:
        return [link["url"] for link in newest_first if pred(link)]

    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({}, expect(lambda x: True)),
        ({"url_regex": r"^https://docs\."}, expect(lambda x: x["url"].startswith("https://docs."))),
        ({"title_regex": "PYTHON"}, expect(lambda x: x["title"].startswith("Python"))),
        ({"description_regex": "test"}, expect(lambda x: "testing" in x["description"])),
        ({"tag": ["even"]}, expect(lambda x: "even" in x["tags"])),
        ({"tag": ["even", "five"]}, expect(lambda x: {"even", "five"} <= set(x["tags"]))),
        (
            {"url_regex": "blog", "title_regex": r"note 1\d$", "tag": ["all"]},
            expect(lambda x: "blog" in x["url"] and re.search(r"note 1\d$", x["title"]) is not None),
        ),
    ]
    for params, expected in cases:
        for page_size in (1, 37, 100):
            if page_size == 1 and len(expected) > 60:
                continue  # one-at-a-time paging of the big sets adds time, not coverage
            got = [x["url"] for x in links_of(system, token, page_size=page_size, **params)]
            assert got == expected, (params, page_size)
    with system.client(token) as c:
        first = c.get("/v1/links", params={"page_size": 20}).json()
        assert len(first["links"]) == 20 and first["next_page_token"]
        other_filter = c.get("/v1/links", params={"tag": "even", "start_token": first["next_page_token"]})
        assert other_filter.status_code == 400
        assert other_filter.json()["error"]["code"] == "invalid_argument"
