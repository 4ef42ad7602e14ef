"""The Netscape writer: the file api.md describes, escaped so that no text can break out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from delinkcious.bookmarks import parse, write


@dataclass
class SampleLink:
    url: str
    title: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    private: bool = False
    created_at: datetime = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    updated_at: datetime = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_the_file_has_the_netscape_shape() -> None:
    text = "".join(
        write(
            [
                SampleLink("https://a.example/?x=1&y=2", "A <b>", "first\nline", ["python", "web"], True),
                SampleLink("https://b.example/", "B"),
            ]
        )
    )
    assert text.startswith("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n")
    assert '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">' in text
    assert "<TITLE>Bookmarks</TITLE>" in text and "<H1>Bookmarks</H1>" in text
    assert (
        '<DT><A HREF="https://a.example/?x=1&amp;y=2" ADD_DATE="1704164645" LAST_MODIFIED="1706933106"'
        ' TAGS="python,web" PRIVATE="1">A &lt;b&gt;</A>\n<DD>first\nline\n'
    ) in text
    assert (
        '<DT><A HREF="https://b.example/" ADD_DATE="1704164645" LAST_MODIFIED="1706933106"'
        ' TAGS="" PRIVATE="0">B</A>\n</DL>'  # no <DD> for an empty description
    ) in text
    assert text.index("a.example") < text.index("b.example")  # in the order given
    assert text.rstrip().endswith("</DL><p>")


def test_hostile_text_stays_inside_its_element() -> None:
    hostile = '"><script>alert(1)</script><!--'
    link = SampleLink(f"https://a.example/{hostile}", hostile, hostile, [hostile])
    (entry,) = parse("".join(write([link])).encode())
    assert (entry.url, entry.title, entry.description, entry.tags) == (
        f"https://a.example/{hostile}",
        hostile,
        hostile,
        [hostile.lower()],
    )


def test_whitespace_around_a_description_survives() -> None:
    link = SampleLink("https://a.example/", "t", "  \n indented \t\n")
    assert parse("".join(write([link])).encode())[0].description == link.description


def test_no_links_is_still_a_bookmark_file() -> None:
    assert parse("".join(write([])).encode()) == []
