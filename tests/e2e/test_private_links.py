"""Private links end to end, through the gateway with every process running: their
events reach nobody's news, the checker still checks them, making one public delivers
its update, and making it private again takes nothing back."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import all_pages, eventually, news


def links(c: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    return {link["url"]: link for link in all_pages(c, "/v1/links", "links", page_size=100, **params)}


def test_private_links_stay_out_of_followers_news(system: RunningSystem, pages: str) -> None:
    author, reader = unique("author"), unique("reader")
    a, r = system.login(author), system.login(reader)
    secret, public, witness = f"{pages}/title?secret", f"{pages}/title?public", f"{pages}/plain?witness"
    with system.client(r) as c:
        assert c.post("/v1/following", json={"followed": author}).status_code == 204
    with system.client(a) as c:
        created = c.post("/v1/links", json={"url": secret, "private": True, "tags": ["s"]})
        assert created.status_code == 201 and created.json()["private"] is True
        assert c.post("/v1/links", json={"url": public}).json()["private"] is False
        assert c.put("/v1/links", json={"url": secret, "add_tags": ["still-secret"]}).status_code == 200
        assert set(links(c, private="true")) == {secret}
        assert set(links(c, private="false")) == {public}
        # The checker looks at the private link like any other, and fills its title.
        checked = eventually(lambda: links(c)[secret], lambda x: x["status"] != "pending", within=20)
        assert (checked["status"], checked["title"]) == ("valid", "A Page & Its Title")
        assert checked["private"] is True
        assert c.post("/v1/links", json={"url": witness}).status_code == 201
    with system.client(r) as c:
        # Events go out in order: once the witness is in, the private ones were skipped.
        seen = eventually(lambda: news(c), lambda e: any(x["url"] == witness for x in e), within=10)
        assert {(e["event_type"], e["url"]) for e in seen} == {
            ("link_added", public),
            ("link_added", witness),
        }

    with system.client(a) as c:
        shown = c.put("/v1/links", json={"url": secret, "private": False})
        assert shown.status_code == 200 and shown.json()["private"] is False
    with system.client(r) as c:
        seen = eventually(lambda: news(c), lambda e: any(x["url"] == secret for x in e), within=10)
        assert [e["event_type"] for e in seen if e["url"] == secret] == ["link_updated"]

    with system.client(a) as c:
        assert c.put("/v1/links", json={"url": secret, "private": True}).status_code == 200
        assert c.delete("/v1/links", params={"url": secret}).status_code == 204
        assert c.post("/v1/links", json={"url": f"{witness}-2"}).status_code == 201
    with system.client(r) as c:
        seen = eventually(lambda: news(c), lambda e: any(x["url"] == f"{witness}-2" for x in e), within=10)
        # Going private again took nothing back, and its later events stayed private.
        assert [e["event_type"] for e in seen if e["url"] == secret] == ["link_updated"]
        assert len(seen) == 4


def test_the_public_create_refuses_a_created_at_and_private_must_be_a_boolean(system: RunningSystem) -> None:
    with system.client(system.login(unique("dates"))) as c:
        r = c.post("/v1/links", json={"url": "https://example.com/d", "created_at": "2001-01-01T00:00:00Z"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_argument"
        r = c.post("/v1/links", json={"url": "https://example.com/d", "private": "sometimes"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_argument"
        r = c.get("/v1/links", params={"private": "sometimes"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_argument"
        assert c.get("/v1/links").json() == {"links": [], "next_page_token": ""}
