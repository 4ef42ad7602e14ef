"""POST /v1/import and GET /v1/export through the gateway of the whole system: real
export files, bad files with their documented answers (and nothing half-imported),
the round trip, events reaching followers (or nobody, for a private import), and an
import repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import all_pages, eventually, news
from tests.e2e_bookmarks.conftest import LINK_LIMIT

FIXTURES = Path(__file__).parents[1] / "bookmarks" / "fixtures"
HEAD = b"<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n"
HTML = {"Content-Type": "text/html"}


def importing(client: httpx.Client, body: bytes, **params: str) -> httpx.Response:
    return client.post("/v1/import", content=body, params=params, headers=HTML, timeout=300)


def my_links(client: httpx.Client) -> list[dict[str, Any]]:
    return all_pages(client, "/v1/links", "links", page_size=100)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


@pytest.fixture
def client(system: RunningSystem) -> httpx.Client:
    return system.client(system.login(unique("imp")))


def test_followers_get_the_events_of_a_public_import_and_nobody_those_of_a_private_one(
    system: RunningSystem,
) -> None:
    author, follower = unique("author"), unique("follower")
    with system.client(system.login(author)) as a, system.client(system.login(follower)) as f:
        assert f.post("/v1/following", json={"followed": author}).status_code == 204
        public = HEAD + b"".join(
            b'<DT><A HREF="https://pub.invalid/%d">p%d</A>\n' % (i, i) for i in range(300)
        )
        assert importing(a, public).json()["created"] == 300
        wanted = {f"https://pub.invalid/{i}" for i in range(300)}
        eventually(
            lambda: {e["url"] for e in news(f) if e["event_type"] == "link_added"},
            lambda urls: wanted <= urls,
            within=60,
        )
        secret = HEAD + b'<DT><A HREF="https://secret.invalid/1" PRIVATE="0">s</A>\n'
        assert importing(a, secret, private="true").json()["created"] == 1
        # Events go out in order: once a later public one is in, the private one is past.
        assert a.post("/v1/links", json={"url": "https://pub.invalid/after"}).status_code == 201
        seen = eventually(
            lambda: news(f), lambda ev: any(e["url"] == "https://pub.invalid/after" for e in ev), 30
        )
        assert not any(e["url"].startswith("https://secret.invalid/") for e in seen)
        assert [x["private"] for x in my_links(a) if x["url"] == "https://secret.invalid/1"] == [True]
        # Importing the same file again emits nothing new.
        before = len(news(f))
        assert importing(a, public).json()["unchanged"] == 300
        assert a.post("/v1/links", json={"url": "https://pub.invalid/last"}).status_code == 201
        seen = eventually(
            lambda: news(f), lambda ev: any(e["url"] == "https://pub.invalid/last" for e in ev), 30
        )
        assert len(seen) == before + 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            b'<html><body><p><a href="https://a.example/">a page</a></p></body></html>',
            400,
            "invalid_argument",
        ),
        (b'{"roots": {"bookmark_bar": {"children": []}}}', 400, "invalid_argument"),
        (bytes(range(256)) * 64, 400, "invalid_argument"),
        (b"", 400, "invalid_argument"),
        (HEAD + b"<!-- " + b"x" * (20 * 1024 * 1024), 413, "payload_too_large"),
    ],
    ids=["html-page", "json", "binary-garbage", "empty", "20-MiB-plus-one"],
)
def test_files_refused_whole(client: httpx.Client, body: bytes, status: int, code: str) -> None:
    if code == "payload_too_large":
        body = body[: 20 * 1024 * 1024 + 1]
        assert len(body) == 20 * 1024 * 1024 + 1
    assert_error(importing(client, body), status, code)
    assert my_links(client) == []


def test_a_file_of_exactly_20_mib_is_taken(client: httpx.Client) -> None:
    body = HEAD + b'<DT><A HREF="https://size.invalid/">at the limit</A>\n<DD>'
    body += b"x" * (20 * 1024 * 1024 - len(body))  # a long description, cut to 10000
    assert len(body) == 20 * 1024 * 1024
    response = importing(client, body)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


def test_bad_entries_fail_alone(client: httpx.Client) -> None:
    tags = ",".join(f"t{i}" for i in range(500))
    body = (
        HEAD
        + (
            '<DT><A HREF="javascript:alert(1)">bookmarklet</A>\n'
            '<DT><A HREF="place:sort=8&amp;maxResults=10">Most visited</A>\n'
            '<DT><A HREF="file:///etc/passwd">local</A>\n'
            "<DT><A>no href</A>\n"
            f'<DT><A HREF="https://bad.invalid/tags" TAGS="{tags}">500 tags</A>\n'
            '<DT><A HREF="https://bad.invalid/date" ADD_DATE="next tuesday">unreadable date</A>\n'
            f'<DT><A HREF="https://bad.invalid/title" ADD_DATE="1300000000">{"T" * 700}</A>\n'
        ).encode()
    )
    started = datetime.now(UTC)
    response = importing(client, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert {k: result[k] for k in ("total", "created", "updated", "unchanged", "failed")} == {
        "total": 7,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 5,
    }
    messages = {e["url"]: e["message"] for e in result["errors"]}
    assert set(messages) == {
        "javascript:alert(1)",
        "place:sort=8&maxResults=10",
        "file:///etc/passwd",
        "",
        "https://bad.invalid/tags",
    }
    assert (
        "http or https" in messages["javascript:alert(1)"]
        and "50 tags" in messages["https://bad.invalid/tags"]
    )
    found = {link["url"]: link for link in my_links(client)}
    assert sorted(found) == ["https://bad.invalid/date", "https://bad.invalid/title"]
    assert found["https://bad.invalid/title"]["title"] == "T" * 500
    assert found["https://bad.invalid/title"]["created_at"].startswith("2011-03-13T07:06:40")
    created = datetime.fromisoformat(found["https://bad.invalid/date"]["created_at"].replace("Z", "+00:00"))
    assert started - timedelta(seconds=5) < created < datetime.now(UTC) + timedelta(seconds=5)


def test_folders_nested_10000_deep(client: httpx.Client) -> None:
    depth = 10_000
    body = (
        HEAD
        + b"".join(
            b'<DT><H3>F%d</H3>\n<DL><p>\n<DT><A HREF="https://deep.invalid/%d">d</A>\n' % (i, i)
            for i in range(depth)
        )
        + b"</DL><p>\n" * depth
    )
    response = importing(client, body)
    assert response.status_code == 200, response.text
    result = response.json()
    # Entry i sits in i+1 folders, each a tag: past 50 folders an entry has too many.
    assert (result["total"], result["created"], result["failed"]) == (depth, 50, depth - 50)
    assert len(result["errors"]) == 100 and all("50 tags" in e["message"] for e in result["errors"])
    response = importing(client, body, folders_as_tags="false")
    # Without folder tags the first 50 are unchanged and the rest fill the account.
    assert (response.json()["unchanged"], response.json()["created"]) == (50, LINK_LIMIT - 50)


def test_50000_entries_stop_at_the_link_limit(client: httpx.Client) -> None:
    body = HEAD + b"".join(b'<DT><A HREF="https://many.invalid/%d">m</A>\n' % i for i in range(50_000))
    response = importing(client, body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["total"], result["created"], result["failed"]) == (50_000, LINK_LIMIT, 50_000 - LINK_LIMIT)
    limit_message = f"at most {LINK_LIMIT} links"
    assert len(result["errors"]) == 100 and all(limit_message in e["message"] for e in result["errors"])
    assert result["errors"][0]["url"] == f"https://many.invalid/{LINK_LIMIT}"
    assert_error(
        client.post("/v1/links", json={"url": "https://many.invalid/one-more"}), 409, "limit_exceeded"
    )


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.html")))
def test_real_exports_import_and_import_again_changes_nothing(client: httpx.Client, name: str) -> None:
    body = (FIXTURES / name).read_bytes()
    first = importing(client, body).json()
    assert first["created"] > 0 and first["total"] == first["created"] + first["failed"]
    again = importing(client, body).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, first["created"])
    assert len(my_links(client)) == first["created"]


def test_export_then_import_into_an_empty_account_gives_the_same_links(
    system: RunningSystem, client: httpx.Client
) -> None:
    originals = [
        {"url": "https://rt.invalid/a?x=1&y=<2>", "title": 'Quotes " and <tags>', "tags": ["python", "web"]},
        {"url": "https://rt.invalid/b", "description": "  leading, trailing\nand inner\n", "private": True},
        {
            "url": "https://rt.invalid/c",
            "title": "Ünïcödé ✓",
            "description": "&amp; stays &amp;",
            "tags": ["ü"],
        },
    ]
    for link in originals:
        assert client.post("/v1/links", json=link).status_code == 201
    importing(client, (FIXTURES / "pinboard.html").read_bytes())
    response = client.get("/v1/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.text.startswith("<!DOCTYPE NETSCAPE-Bookmark-file-1>")

    def comparable(links: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (x["url"], x["title"], x["description"], x["tags"], x["private"], x["created_at"][:19])
            for x in links
        )

    with system.client(system.login(unique("empty"))) as other:
        result = importing(other, response.content).json()
        assert result["created"] == len(originals) + 3 and result["failed"] == 0
        assert comparable(my_links(other)) == comparable(my_links(client))
