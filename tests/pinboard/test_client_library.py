"""The `pinboard` package from PyPI (Pinboard's own Python client), unmodified, against
Delinkcious. The library has no setting for its endpoint: it reads the module constant
PINBOARD_API_ENDPOINT on every call, so pointing that constant at the gateway is what a
user of the library does, and all this test changes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pinboard
import pinboard.pinboard as pinboard_module
import pytest

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import all_pages, eventually, news

Client = Callable[[str], tuple[pinboard.Pinboard, str]]


@pytest.fixture
def client(system: RunningSystem, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setattr(pinboard_module, "PINBOARD_API_ENDPOINT", f"{system.gateway}/pinboard/v1/")

    def make(username: str) -> tuple[pinboard.Pinboard, str]:
        token = system.login(username)
        return pinboard.Pinboard(f"{username}:{token}"), token

    return make


def rest_links(system: RunningSystem, token: str) -> dict[str, dict[str, Any]]:
    with system.client(token) as c:
        return {link["url"]: link for link in all_pages(c, "/v1/links", "links", page_size=100)}


def test_the_library_adds_gets_lists_renames_and_deletes(system: RunningSystem, client: Client) -> None:
    alice = unique("alice")
    pb, token = client(alice)
    one, two = "https://example.com/one", "https://example.com/two"
    saved = datetime(2021, 3, 4, 5, 6, 7)  # the library sends naive datetimes as UTC
    assert pb.posts.add(
        url=one,
        description="One",
        extended="The first",
        tags=["Python", "web"],
        dt=saved,
        shared=False,
        toread=True,
    )
    assert pb.posts.add(url=two, description="Two", tags=["web"])

    [bookmark] = pb.posts.get(url=one)["posts"]
    assert (bookmark.url, bookmark.description, bookmark.extended) == (one, "One", "The first")
    assert bookmark.shared is False and bookmark.toread is True
    assert sorted(bookmark.tags) == ["python", "toread", "web"]
    assert bookmark.time == saved
    assert bookmark.hash == hashlib.md5(one.encode()).hexdigest()
    assert len(bookmark.meta) == 32

    assert [b.url for b in pb.posts.recent(count=10)["posts"]] == [two, one]
    assert [b.url for b in pb.posts.all()] == [two, one]
    assert [b.url for b in pb.posts.all(tag=["python"])] == [one]
    assert [b.url for b in pb.posts.all(start=1, results=1)] == [one]
    dates = pb.posts.dates()["dates"]
    assert dates[date(2021, 3, 4)] == 1 and sum(dates.values()) == 2
    assert [b.url for b in pb.posts.get(dt=date(2021, 3, 4))["posts"]] == [one]
    assert pb.posts.update() >= datetime.now(UTC).replace(tzinfo=None, microsecond=0).replace(second=0)

    assert {t.name: t.count for t in pb.tags.get()} == {"python": 1, "toread": 1, "web": 2}
    assert pb.tags.rename(old="web", new="www") == {"result": "done"}
    assert pb.tags.delete(tag="python") == {"result": "done"}
    assert {t.name: t.count for t in pb.tags.get()} == {"toread": 1, "www": 2}

    # The same links through the REST API: private, created when the client said.
    links = rest_links(system, token)
    assert links[one]["private"] is True and links[one]["created_at"].startswith("2021-03-04T05:06:07")
    assert links[one]["title"] == "One" and links[one]["description"] == "The first"
    assert links[two]["private"] is False and links[two]["tags"] == ["www"]

    # Bookmark.save() is posts/add with replace: the link is overwritten, not duplicated.
    [bookmark] = pb.posts.get(url=one)["posts"]
    bookmark.description = "One, edited"
    bookmark.tags = ["edited"]
    bookmark.save()
    [edited] = pb.posts.get(url=one)["posts"]
    assert edited.description == "One, edited"
    assert edited.tags == ["edited", "toread"] and edited.toread is True  # save() sends toread=yes
    assert edited.shared is False and edited.meta != bookmark.meta and edited.hash == bookmark.hash
    assert edited.time == saved

    assert pb.posts.delete(url=two) is True
    assert pb.posts.get(url=two)["posts"] == []
    assert set(rest_links(system, token)) == {one}


def test_refusals_carry_pinboards_wording(client: Client) -> None:
    pb, _ = client(unique("carol"))
    assert pb.posts.add(url="https://example.com/once", description="Once")
    with pytest.raises(pinboard.PinboardError, match=r"^item already exists$"):
        pb.posts.add(url="https://example.com/once", description="Again", replace=False)
    with pytest.raises(pinboard.PinboardError, match=r"^item not found$"):
        pb.posts.delete(url="https://example.com/never-saved")
    with pytest.raises(pinboard.PinboardError, match=r"^missing url$"):
        pb.posts.add(description="No url")
    with pytest.raises(pinboard.PinboardError, match=r"^url: "):
        pb.posts.add(url="ftp://example.com/file", description="Not the web")
    [kept] = pb.posts.all()
    assert kept.description == "Once"


def test_a_bad_token_is_an_authentication_error(system: RunningSystem, client: Client) -> None:
    dave, erin = unique("dave"), unique("erin")
    _, dave_token = client(dave)
    client(erin)
    for credentials in (f"{dave}:not-a-token", f"{erin}:{dave_token}", ""):
        with pytest.raises(pinboard.PinboardAuthenticationError):
            pinboard.Pinboard(credentials).posts.update()


def test_links_saved_by_a_client_reach_followers_unless_private(
    system: RunningSystem, client: Client
) -> None:
    frank, grace = unique("frank"), unique("grace")
    pb, _ = client(frank)
    follower = system.login(grace)
    with system.client(follower) as c:
        assert c.post("/v1/following", json={"followed": frank}).status_code == 204
    assert pb.posts.add(url="https://example.com/hidden", description="Hidden", shared=False)
    assert pb.posts.add(url="https://example.com/public", description="Public")
    assert pb.posts.add(url="https://example.com/public", description="Public")  # the same again
    assert pb.posts.add(url="https://example.com/public", description="Public, edited")
    with system.client(follower) as c:
        events = eventually(
            lambda: news(c), lambda e: any(x["title"] == "Public, edited" for x in e), within=5
        )
    assert [(e["event_type"], e["url"], e["title"]) for e in events] == [
        ("link_updated", "https://example.com/public", "Public, edited"),
        ("link_added", "https://example.com/public", "Public"),
    ]


def test_personal_api_tokens_full_works_feeds_is_refused(system: RunningSystem, client: Client) -> None:
    henry = unique("henry")
    _, login_token = client(henry)
    tokens = {}
    with system.client(login_token) as c:
        for scope in ("full", "feeds"):
            response = c.post("/v1/tokens", json={"name": f"pinboard {scope}", "scope": scope})
            assert response.status_code == 201, response.text
            tokens[scope] = response.json()["token"]
    full = pinboard.Pinboard(f"{henry}:{tokens['full']}")
    assert full.posts.add(url="https://example.com/with-a-personal-token", description="Personal")
    assert [b.url for b in full.posts.all()] == ["https://example.com/with-a-personal-token"]
    with pytest.raises(pinboard.PinboardForbiddenError):
        pinboard.Pinboard(f"{henry}:{tokens['feeds']}").posts.all()
