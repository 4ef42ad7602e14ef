"""The Netscape reader on what real exports look like (fixtures/README.md says which
product each file mimics), in every encoding they come in, and on what is not one."""

from __future__ import annotations

import codecs
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from delinkcious.bookmarks import Bookmark, parse, read_entries
from delinkcious.errors import InvalidArgument

FIXTURES = Path(__file__).parent / "fixtures"


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def one(attributes: str, body: str = "t") -> bytes:
    """A file holding one entry: `<A HREF="https://a.example/" {attributes}>{body}`."""
    head = "<!DOCTYPE NETSCAPE-Bookmark-file-1><DL><DT>"
    return f'{head}<A HREF="https://a.example/" {attributes}>{body}'.encode()


def row(b: Bookmark) -> tuple[object, ...]:
    return (b.url, b.title, b.description, b.tags, b.private, b.created_at)


EXPECTED: dict[str, list[tuple[object, ...]]] = {
    "firefox.html": [
        (
            "https://www.python.org/",
            "Welcome to Python.org",
            "The official home of the Python Programming Language",
            ["programming", "python"],
            None,
            at(1609459200),
        ),
        (
            "place:parent=menu________&queryType=1&sort=12&maxResults=10&excludeQueries=1",
            "Recent Tags",
            "",
            [],
            None,
            at(1609459200),
        ),
        (
            "https://support.mozilla.org/en-US/products/firefox",
            "Get Help",
            "",
            ["mozilla-firefox"],
            None,
            at(1609459201),
        ),
        (
            "https://www.mozilla.org/en-US/about/",
            "About Us & Our 'Mission' \"Manifesto\"",
            "",
            ["mozilla-firefox"],
            None,
            at(1609459202),
        ),
        (
            "https://news.ycombinator.com/",
            "Hacker News",
            "",
            ["bookmarks-toolbar", "news"],
            None,
            at(1640995200),
        ),
        (
            "javascript:(function(){location.href='https://web.archive.org/save/'+location.href})()",
            "Save to Wayback",
            "",
            ["bookmarks-toolbar"],
            None,
            at(1640995300),
        ),
        (
            "https://lwn.net/Articles/",
            "LWN.net articles",
            "Weekly news <and> analysis",
            ["bookmarks-toolbar", "kernel", "linux", "read-later"],
            None,
            at(1640995400),
        ),
        (
            "https://www.rust-lang.org/",
            "Rust Programming Language",
            "",
            ["other-bookmarks", "programming", "rust"],
            None,
            at(1672531200),
        ),
    ],
    "chrome.html": [
        ("https://github.com/", "GitHub", "", ["bookmarks-bar"], None, at(1577836801)),
        (
            "https://calendar.google.com/calendar/r",
            "Google Calendar - Week of April 27, 2020",
            "",
            ["bookmarks-bar", "work-tools"],
            None,
            at(1588291201),
        ),
        (
            "file:///home/alice/notes/todo.html",
            "todo.html",
            "",
            ["bookmarks-bar", "work-tools"],
            None,
            at(1588291202),
        ),
        (
            "https://jira.example.com/secure/RapidBoard.jspa?rapidView=12&projectKey=OPS",
            "Ops board - Agile Board - JIRA",
            "",
            ["bookmarks-bar", "work-tools"],
            None,
            at(1588291203),
        ),
        (
            "https://en.wikipedia.org/wiki/Caf%C3%A9",
            "Café \u2013 Wikipedia",
            "",
            ["other-bookmarks"],
            None,
            at(1600000000),
        ),
    ],
    "edge.html": [
        ("https://www.bing.com/", "Bing", "", ["favorites-bar"], None, at(1650000001)),
        (
            "https://learn.microsoft.com/en-us/",
            "Microsoft Learn: Build skills that open doors in your career",
            "",
            ["favorites-bar"],
            None,
            at(1650000002),
        ),
        ("edge://settings/profiles", "Settings", "", [], None, at(1650000003)),
    ],
    "safari.html": [
        ("https://www.apple.com/", "Apple", "", ["favorites"], None, None),
        ("https://www.icloud.com/", "iCloud", "", ["favorites"], None, None),
        (
            "https://www.seriouseats.com/the-food-lab",
            "The Food Lab | Serious Eats",
            "",
            ["recipes-&-food"],
            None,
            None,
        ),
        (
            "https://daringfireball.net/2004/12/markdown",
            "Daring Fireball: Markdown",
            "",
            ["reading-list"],
            None,
            None,
        ),
    ],
    "pinboard.html": [
        (
            "https://pinboard.in/howto/",
            "Pinboard - How To",
            'Answers to "how do I" questions, with an ampersand & a bold claim.',
            ["help", "pinboard"],
            False,
            at(1325376000),
        ),
        (
            "https://www.recipes.example/sourdough?src=rss&utm=1",
            "A sourdough primer",
            "",
            ["baking", "bread", "toread"],
            True,
            at(1356998400),
        ),
        (
            "https://maciej.example/talks/website-obesity",
            "The Website Obesity Crisis",
            "Line one of the note.\nLine two of the note.",
            [],
            False,
            at(1451606400),
        ),
    ],
    "delicious.html": [
        (
            "http://www.delicious.com/help/bookmarklets",
            "Bookmarklets on Delicious",
            "",
            ["bookmarklet", "delicious", "tools"],
            False,
            at(1199145600),
        ),
        (
            "http://diveintopython.net/",
            "Dive Into Python",
            "A free Python book for experienced programmers",
            ["books", "free", "python"],
            True,
            at(1230768000),
        ),
        ("http://www.example.org/a%20b", "untitled", "", ["system:unfiled"], False, at(1262304000)),
    ],
    "linkding.html": [
        (
            "https://github.com/sissbruecker/linkding",
            "GitHub - sissbruecker/linkding: Self-hosted bookmark manager",
            "Self-hosted bookmark manager that is designed be to be minimal, fast, and easy to set up"
            " using Docker.",
            ["bookmarks", "self-hosted"],
            False,
            at(1700000000),
        ),
        (
            "https://docs.djangoproject.com/en/5.0/",
            "Django documentation | Django",
            "[linkding-notes]Check the <release notes> first[/linkding-notes]",
            ["django", "linkding:archived", "python"],
            True,
            at(1700086400),
        ),
        ("https://example.com/untitled", "", "", [], False, at(1700172800)),
    ],
    "shiori.html": [
        (
            "https://github.com/go-shiori/shiori",
            "Shiori: simple bookmark manager built with Go",
            "",
            ["go", "self-hosted"],
            None,
            at(1672574400),
        ),
        ("https://blog.example.com/ci?a=1&b=2", "Q&A: Tom & Jerry <3", "", [], None, at(1672660800)),
    ],
    "internet-explorer-cp1252.html": [
        ("http://www.lemonde.fr/", "Le Monde.fr - Actualité à la Une", "", ["liens"], None, at(1262304001)),
        ("http://www.café.example/menü", "Café \u201cParís\u201d \u2013 menü", "", [], None, at(1262304002)),
    ],
    "odd.html": [
        (
            "https://odd.example/ms",
            "Milliseconds",
            "no closing tags anywhere",
            ["case", "deep-thoughts-inc.", "mixed", "ok"],
            None,
            at(1500000000.123),
        ),
        (
            "https://odd.example/us",
            "Microseconds",
            "",
            ["deep-thoughts-inc."],
            True,
            datetime(2017, 7, 14, 2, 40, 0, 123456, UTC),
        ),
        (
            "https://odd.example/bad-date",
            "Unreadable date — em dash été",
            "Line 1\nLine 2 with markup & a link inside",
            ["deep-thoughts-inc."],
            None,
            None,
        ),
        ("https://odd.example/zero", "Zero date", "", ["deep-thoughts-inc."], False, None),
        (" https://odd.example/spaces ", "Spaced   url", "", ["deep-thoughts-inc."], None, None),
        ("", "Empty href", "", ["deep-thoughts-inc."], None, None),
        ("mailto:someone@example.com", "Mail", "", ["deep-thoughts-inc."], None, None),
        ("ftp://ftp.example.org/pub/", "FTP", "", ["deep-thoughts-inc."], None, None),
        ("https://odd.example/after", "Live bookmark", "", [], None, at(1500000001)),
    ],
}


def test_every_fixture_has_expectations() -> None:
    assert sorted(p.name for p in FIXTURES.glob("*.html")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    assert [row(b) for b in parse((FIXTURES / name).read_bytes())] == EXPECTED[name]


def test_folder_paths_are_kept() -> None:
    found = {b.url: b.folders for b in parse((FIXTURES / "firefox.html").read_bytes())}
    assert found["https://lwn.net/Articles/"] == ("Bookmarks Toolbar", "Read Later")
    assert found["https://www.python.org/"] == ()


def test_folders_as_tags_off_keeps_only_the_tags_attribute() -> None:
    found = {b.url: b.tags for b in parse((FIXTURES / "firefox.html").read_bytes(), folders_as_tags=False)}
    assert found["https://lwn.net/Articles/"] == ["kernel", "linux"]
    assert found["https://support.mozilla.org/en-US/products/firefox"] == []


def test_a_link_without_a_heading_folder_and_a_missing_href() -> None:
    data = b'<!DOCTYPE NETSCAPE-Bookmark-file-1><DL><p><DT><A ADD_DATE="1">no href</A></DL>'
    assert [row(b) for b in parse(data)] == [(None, "no href", "", [], None, at(1))]
    assert read_entries(data)[0].url == ""


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("A,b,,  c  ,B", ["a", "b", "c"]),
        ("has space,ok", ["ok"]),
        ("x" * 65 + ",y", ["y"]),
        ("", []),
    ],
)
def test_tags_are_normalized_and_invalid_ones_dropped(tags: str, expected: list[str]) -> None:
    assert parse(one(f'TAGS="{tags}"'))[0].tags == expected


def test_more_tags_than_a_link_may_have_are_carried_just_past_the_limit() -> None:
    tags = ",".join(f"t{i}" for i in range(500))
    assert len(parse(one(f'TAGS="{tags}"'))[0].tags) == 51  # enough for link-manager to refuse the entry


def test_oversized_title_and_description_are_cut() -> None:
    (entry,) = parse(one("", f"{'t' * 600}</A><DD>{'d' * 12_000}"))
    assert (len(entry.title), len(entry.description)) == (500, 10_000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000000", at(1700000000)),
        ("1700000000.25", datetime(2023, 11, 14, 22, 13, 20, 250000, UTC)),
        ("1700000000123", at(1700000000.123)),
        ("1700000000123456", datetime(2023, 11, 14, 22, 13, 20, 123456, UTC)),
        (" 1700000000 ", at(1700000000)),
        ("0", None),
        ("-5", None),
        ("yesterday", None),
        ("2023-11-14", None),
        ("", None),
        ("9" * 20, None),  # past the year 2999 in any unit
        ("99999999999", None),
    ],
)
def test_add_date(value: str, expected: datetime | None) -> None:
    assert parse(one(f'ADD_DATE="{value}"'))[0].created_at == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("0", False), ("true", True), ("FALSE", False), ("", False), ("maybe", None)],
)
def test_private(value: str, expected: bool | None) -> None:
    assert parse(one(f'PRIVATE="{value}"'))[0].private is expected


FIREFOX_TEXT = (FIXTURES / "firefox.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + FIREFOX_TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + FIREFOX_TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + FIREFOX_TEXT.encode("utf-16-be"),
        FIREFOX_TEXT.encode("utf-16-le"),  # no byte order mark
        FIREFOX_TEXT.replace("\n", "\r\n").encode("utf-8"),
    ],
    ids=["utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-16-no-bom", "crlf"],
)
def test_encodings_and_line_ends(data: bytes) -> None:
    assert [row(b) for b in parse(data)] == EXPECTED["firefox.html"]


@pytest.mark.parametrize("charset", ["iso-8859-1", "windows-1252", "ISO-8859-15"])
def test_a_declared_legacy_charset(charset: str) -> None:
    page = (
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n"
        f'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset={charset}">\n'
        '<DL><p><DT><A HREF="https://a.example/">Señor Café</A>\n</DL>'
    )
    assert parse(page.encode(charset))[0].title == "Señor Café"


def test_broken_utf8_declared_as_utf8_keeps_the_rest() -> None:
    data = b'<META charset="UTF-8">' + one("", "café ok").replace("é".encode(), b"\xe9")
    assert parse(data)[0].title == "caf\ufffd ok"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
CHROME_JSON = json.dumps(
    {"roots": {"bookmark_bar": {"children": [{"name": "x", "type": "url", "url": "https://a.example/"}]}}}
).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text, no markup at all",
        CHROME_JSON,
        PNG,
        random.Random(12).randbytes(100_000),
        bytes(range(1, 256)) * 100,  # binary without NUL bytes
        b'<html><body><h1>My page</h1><p><a href="https://a.example/">a link</a></p></body></html>',
        b"<?xml version='1.0'?><rss><channel><item><link>https://a.example/</link></item></channel></rss>",
        b"<!DOCTYPE html><DL><DT>term<DD>definition</DL>",
    ],
    ids=[
        "empty",
        "text",
        "chrome-json",
        "png",
        "random-bytes",
        "binary-no-nul",
        "html-page",
        "rss",
        "plain-dl",
    ],
)
def test_not_a_bookmark_file(data: bytes) -> None:
    with pytest.raises(InvalidArgument, match="not a Netscape bookmark file"):
        parse(data)


def test_an_empty_export_is_a_bookmark_file_with_no_entries() -> None:
    assert parse(b"<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<TITLE>Bookmarks</TITLE>\n<DL><p>\n</DL><p>\n") == []


def test_entries_without_a_doctype_are_still_read() -> None:
    assert parse(b'<DL><p><DT><A HREF="https://a.example/">a</A></DL>')[0].url == "https://a.example/"


def test_markup_the_stdlib_parser_gives_up_on_is_a_clean_error() -> None:
    with pytest.raises(InvalidArgument, match="not a Netscape bookmark file"):
        parse(b'<!DOCTYPE NETSCAPE-Bookmark-file-1><DL><DT><A HREF="https://a.example/">a</A><![ x]]>')


def test_a_tag_cut_off_at_the_end_of_the_file_is_dropped() -> None:
    data = b'<!DOCTYPE NETSCAPE-Bookmark-file-1><DL><DT><A HREF="https://a.example/">a</A><DT><A HREF="https://b.ex'
    assert [b.title for b in parse(data)] == ["a"]


def test_an_unclosed_script_tag_does_not_swallow_the_file() -> None:
    data = b'<!DOCTYPE NETSCAPE-Bookmark-file-1><DL><DT><A HREF="https://a.example/">a<script>b</A><DT><A HREF="https://b.example/">c</A>'
    assert [b.title for b in parse(data)] == ["ab", "c"]
