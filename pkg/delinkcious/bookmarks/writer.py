"""Writes a Netscape bookmark file, one link at a time, so an export streams."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol

from delinkcious.bookmarks.text import LAYOUT_WHITESPACE

HEADER = """<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file.
     It will be read and overwritten.
     DO NOT EDIT! -->
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
"""
FOOTER = "</DL><p>\n"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_REFERENCE = {c: f"&#{ord(c)};" for c in LAYOUT_WHITESPACE}


class ExportedLink(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def private(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def _attribute(value: str) -> str:
    # Whitespace as references too: readers may fold it in attribute values.
    return html.escape(value, quote=True).translate({ord(c): r for c, r in _REFERENCE.items()})


def _text(value: str) -> str:
    """Escaped, with leading and trailing whitespace as references, so a reader that
    trims the layout around the text keeps the text's own."""
    escaped = html.escape(value, quote=True)
    body = escaped.strip(LAYOUT_WHITESPACE)
    if body == escaped:
        return escaped
    start = escaped.index(body) if body else len(escaped)
    lead, trail = escaped[:start], escaped[start + len(body) :]
    return "".join(_REFERENCE[c] for c in lead) + body + "".join(_REFERENCE[c] for c in trail)


def _seconds(value: datetime) -> int:
    # Whole seconds, counted exactly: a float timestamp can round up past the second.
    return (value - _EPOCH) // timedelta(seconds=1)


def entry(link: ExportedLink) -> str:
    line = (
        f'<DT><A HREF="{_attribute(link.url)}" ADD_DATE="{_seconds(link.created_at)}"'
        f' LAST_MODIFIED="{_seconds(link.updated_at)}" TAGS="{_attribute(",".join(link.tags))}"'
        f' PRIVATE="{1 if link.private else 0}">{_text(link.title)}</A>\n'
    )
    if link.description:
        line += f"<DD>{_text(link.description)}\n"
    return line


def write(links: Iterable[ExportedLink]) -> Iterator[str]:
    """The file in pieces: the header, one entry per link in the order given, the end."""
    yield HEADER
    for link in links:
        yield entry(link)
    yield FOOTER
