"""Properties of the Netscape format code, over arbitrary input (Hypothesis)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delinkcious.bookmarks import parse, write
from delinkcious.errors import InvalidArgument
from delinkcious.models import MAX_TAG_LENGTH, check_url, normalize_tag


@dataclass(frozen=True)
class SampleLink:
    url: str
    title: str
    description: str
    tags: list[str]
    private: bool
    created_at: datetime
    updated_at: datetime


# Any text Postgres stores: no NUL and no lone surrogates.
TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
HOSTILE = st.sampled_from(
    [
        *('"', "'", "<", ">", "&", "&amp;", "&#32;", "&#x20;"),
        *("<!--", "-->", "</A>", "<DD>", "<DT>", "\ufdd0", "\r\n", " "),
    ]
)
PIECES = st.lists(st.one_of(st.text(TEXT, max_size=8), HOSTILE), max_size=12).map("".join)


def _valid_url(path: str) -> str | None:
    try:
        return check_url("https://host.example/" + "".join(c for c in path if not c.isspace()))
    except ValueError:
        return None


def _valid_tag(text: str) -> str | None:
    try:
        return normalize_tag(text)
    except ValueError:
        return None


URLS = PIECES.map(_valid_url).filter(lambda u: u is not None)
TAGS = st.text(TEXT, min_size=1, max_size=MAX_TAG_LENGTH).map(_valid_tag).filter(lambda t: t is not None)
DATES = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 1, 1), timezones=st.just(UTC))

LINKS = st.builds(
    SampleLink,
    url=URLS,
    title=PIECES.map(lambda s: s.strip()[:500]),
    description=PIECES,
    tags=st.lists(TAGS, max_size=8, unique=True).map(sorted),
    private=st.booleans(),
    created_at=DATES,
    updated_at=DATES,
)


def _floor_to_second(value: datetime) -> datetime:
    return value.replace(microsecond=0)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINKS, max_size=6, unique_by=lambda link: link.url))
def test_what_is_written_reads_back_the_same(links: list[SampleLink]) -> None:
    read = parse("".join(write(links)).encode())
    assert [(b.url, b.title, b.description, b.tags, b.private, b.created_at) for b in read] == [
        (link.url, link.title, link.description, link.tags, link.private, _floor_to_second(link.created_at))
        for link in links
    ]


MARKUP = st.sampled_from(
    [
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>",
        "<DL><p>",
        "</DL><p>",
        "<DT>",
        "<DD>",
        "<HR>",
        '<A HREF="https://a.example/" ADD_DATE="1" TAGS="a,b" PRIVATE="1">',
        "<A HREF='",
        "</A>",
        "<H3>",
        "</H3>",
        "<!--",
        "-->",
        "<![",
        "<?",
        "<!",
        "</",
        "&#",
        "&#x",
        "&",
        ";",
        '"',
        "'",
        "<script>",
        "<",
        ">",
        "\ufdd0",
    ]
)


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=2000), st.lists(st.one_of(MARKUP, st.text(max_size=5))).map("".join)))
def test_any_input_reads_or_is_invalid_argument(data: bytes | str) -> None:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    with contextlib.suppress(InvalidArgument):
        parse(raw)
