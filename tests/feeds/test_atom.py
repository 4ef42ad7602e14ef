"""The Atom feeds as a feed reader sees them (feedparser fetching over HTTP), valid
against RFC 4287's own RELAX NG schema, and cheap to poll (ETag, Last-Modified, 304)."""

from __future__ import annotations

from pathlib import Path

import feedparser
import httpx
import pytest
import rnc2rng
from lxml import etree

from tests.e2e.conftest import RunningSystem, unique
from tests.e2e.helpers import eventually, news

SCHEMA = Path(__file__).with_name("atom.rnc")
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def atom_schema() -> etree.RelaxNG:
    # rnc2rng declares the schema's `namespace local = ""` as xmlns:local="", which XML
    # namespaces forbid; nothing in its output uses the prefix (it writes ns=""), so the
    # declaration is dropped.
    rng = rnc2rng.dumps(rnc2rng.loads(SCHEMA.read_text())).replace('xmlns:local=""', "")
    return etree.RelaxNG(etree.fromstring(rng.encode()))


def assert_valid(schema: etree.RelaxNG, body: bytes) -> etree._Element:
    document = etree.fromstring(body)
    assert schema.validate(document), schema.error_log
    return document


def test_news_feed_is_valid_atom_a_reader_understands(
    system: RunningSystem, atom_schema: etree.RelaxNG
) -> None:
    author, reader = unique("author"), unique("reader")
    author_token, reader_token = system.login(author), system.login(reader)
    with system.client(reader_token) as c:
        assert c.post("/v1/following", json={"followed": author}).status_code == 204
    with system.client(author_token) as c:
        for body in (
            {"url": "https://example.com/a?x=1&y=2", "title": "A & <B>"},
            {"url": "https://example.com/untitled"},
            {"url": "https://example.com/secret", "title": "Mine", "private": True},
        ):
            assert c.post("/v1/links", json=body).status_code == 201
    with system.client(reader_token) as c:
        eventually(lambda: news(c), lambda events: len(events) == 2, within=5)

    url = f"{system.gateway}/feeds/news.atom?token={reader_token}"
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    document = assert_valid(atom_schema, response.content)
    assert document.tag == f"{ATOM}feed"

    parsed = feedparser.parse(url)
    assert parsed.status == 200 and not parsed.bozo and parsed.version == "atom10"
    titles = {entry.link: entry.title for entry in parsed.entries}
    assert titles == {
        "https://example.com/a?x=1&y=2": "A & <B>",
        "https://example.com/untitled": "https://example.com/untitled",
    }
    assert {entry.author for entry in parsed.entries} == {author}
    assert all(entry.updated.endswith("Z") for entry in parsed.entries)
    assert [e.id for e in feedparser.parse(url).entries] == [e.id for e in parsed.entries]  # stable ids


def test_links_feed_has_own_links_private_included(system: RunningSystem, atom_schema: etree.RelaxNG) -> None:
    owner = unique("owner")
    token = system.login(owner)
    with system.client(token) as c:
        assert (
            c.post("/v1/links", json={"url": "https://example.com/open", "tags": ["t1", "t2"]}).status_code
            == 201
        )
        assert (
            c.post("/v1/links", json={"url": "https://example.com/closed", "private": True}).status_code
            == 201
        )
    response = httpx.get(f"{system.gateway}/feeds/links.atom", params={"token": token})
    assert response.status_code == 200
    assert_valid(atom_schema, response.content)
    parsed = feedparser.parse(response.content)
    assert [entry.link for entry in parsed.entries] == [
        "https://example.com/closed",
        "https://example.com/open",
    ]
    assert [tag.term for tag in parsed.entries[1].tags] == ["t1", "t2"]
    assert parsed.feed.author == owner


def test_an_empty_feed_is_valid_too(system: RunningSystem, atom_schema: etree.RelaxNG) -> None:
    token = system.login(unique("newcomer"))
    for feed in ("news", "links"):
        response = httpx.get(f"{system.gateway}/feeds/{feed}.atom", params={"token": token})
        assert response.status_code == 200
        assert_valid(atom_schema, response.content)


def test_polling_with_etag_or_last_modified_gets_a_304(system: RunningSystem) -> None:
    token = system.login(unique("poller"))
    with system.client(token) as c:
        assert c.post("/v1/links", json={"url": "https://example.com/first"}).status_code == 201
    url = f"{system.gateway}/feeds/links.atom?token={token}"
    first = feedparser.parse(url)
    assert first.status == 200 and first.etag and first.modified
    assert feedparser.parse(url, etag=first.etag).status == 304
    assert feedparser.parse(url, modified=first.modified).status == 304
    unchanged = httpx.get(url, headers={"If-None-Match": first.etag})
    assert (
        unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == first.etag
    )

    with system.client(token) as c:
        assert c.post("/v1/links", json={"url": "https://example.com/second"}).status_code == 201
    changed = feedparser.parse(url, etag=first.etag)
    assert changed.status == 200 and changed.etag != first.etag and len(changed.entries) == 2


def test_a_bad_or_missing_token_is_a_401_with_the_error_body(system: RunningSystem) -> None:
    for feed in ("news", "links"):
        for params in ({"token": "not-a-token"}, {}):
            response = httpx.get(f"{system.gateway}/feeds/{feed}.atom", params=params)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthenticated"


def test_a_feeds_scope_token_reads_the_feeds(system: RunningSystem) -> None:
    login_token = system.login(unique("subscriber"))
    with system.client(login_token) as c:
        created = c.post("/v1/tokens", json={"name": "feed reader", "scope": "feeds"})
        assert created.status_code == 201, created.text
        feeds_token = created.json()["token"]
        assert c.post("/v1/links", json={"url": "https://example.com/for-the-reader"}).status_code == 201
    parsed = feedparser.parse(f"{system.gateway}/feeds/links.atom?token={feeds_token}")
    assert parsed.status == 200 and [e.link for e in parsed.entries] == ["https://example.com/for-the-reader"]
    refused = httpx.get(f"{system.gateway}/v1/links", headers={"Authorization": f"Bearer {feeds_token}"})
    assert refused.status_code == 403
