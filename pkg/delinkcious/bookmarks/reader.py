"""Reads a Netscape bookmark file: the stdlib's event-driven HTML parser driven by a
small state machine.

Nothing here recurses and no entry copies its folder path, so folders nested
thousands deep and files of many thousands of entries take linear time and memory.
The parser is fed in slices: markup that never ends (an unclosed comment or quote)
cannot make it rescan the rest of the file again and again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from delinkcious.bookmarks import fields
from delinkcious.bookmarks.text import (
    LAYOUT_WHITESPACE,
    decode,
    mark_whitespace_references,
    not_a_bookmark_file,
    restore,
)
from delinkcious.errors import InvalidArgument
from delinkcious.models import MAX_DESCRIPTION_LENGTH, MAX_TITLE_LENGTH

MAX_ENTRIES = 100_000
_SLICE = 64 * 1024
# One tag or comment longer than this (an icon data URI is a few KiB) is markup that
# never ends.
_MAX_PENDING = 1024 * 1024

# Tags that end a title or a folder name left open by a missing </A> or </H3>.
_ENDS_TEXT = frozenset({"a", "dt", "dd", "dl", "hr", "h1", "h2", "h3", "h4", "h5", "h6"})
# A description may hold inline markup, links included; these end it.
_ENDS_DESCRIPTION = _ENDS_TEXT - {"a"}


@dataclass(frozen=True, slots=True, eq=False)
class Folder:
    """A <DL> list, with its <H3> heading when it has one. `tags` are the names on the
    path from the root as tags: unique, and no more than an entry can carry."""

    name: str | None
    parent: Folder | None = field(repr=False)  # not compared or shown: chains run deep
    tags: tuple[str, ...] = ()

    @property
    def path(self) -> tuple[str, ...]:
        names: list[str] = []
        folder: Folder | None = self
        while folder is not None:
            if folder.name is not None:
                names.append(folder.name)
            folder = folder.parent
        return tuple(reversed(names))

    def child(self, name: str | None) -> Folder:
        tags = self.tags
        tag = None if name is None else fields.folder_tag(name)
        if tag is not None and tag not in tags and len(tags) < fields.TAGS_CARRIED:
            tags = (*tags, tag)
        return Folder(name, self, tags)


ROOT = Folder(None, None, ())


@dataclass(slots=True)
class Bookmark:
    """One <A> entry as the file gives it. `url` is HREF as written (None when
    missing): whether it is a URL Delinkcious takes is link-manager's decision."""

    url: str | None
    title: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    private: bool | None = None
    created_at: datetime | None = None
    folder: Folder = ROOT

    @property
    def folders(self) -> tuple[str, ...]:
        return self.folder.path


@dataclass(slots=True)
class _Entry:
    attrs: dict[str, str | None]
    folder: Folder
    title: str = ""
    description: str | None = None


class _NetscapeParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[_Entry] = []
        self.folder = ROOT
        self.heading: str | None = None  # a folder name whose <DL> has not opened yet
        self.capture: list[str] | None = None
        self.capturing = ""  # "title", "description", "heading" or "" (text ignored)
        self.described: _Entry | None = None  # what a following <DD> describes
        self.netscape_doctype = False
        self.bookmark_markup = False
        self._after_dt = False

    # ---------------------------------------------------------------- events

    def set_cdata_mode(self, *args: Any, **kwargs: Any) -> None:
        """<script> and <style> are read as any other tag: in a bookmark file they are
        stray text, and raw-text mode would swallow everything after an unclosed one."""

    def handle_decl(self, decl: str) -> None:
        if "netscape-bookmark-file" in decl.lower():
            self.netscape_doctype = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        after_dt, self._after_dt = self._after_dt, tag == "dt"
        if self.capturing == "description" and tag not in _ENDS_DESCRIPTION:
            return
        if self.capturing in ("title", "heading") and tag not in _ENDS_TEXT:
            return
        if tag in _ENDS_TEXT:
            self._end_text()
        if tag == "a":
            self._start_entry(attrs, after_dt)
        elif tag == "h3":
            self.bookmark_markup |= after_dt
            self.described = None
            self._start_text("heading")
        elif tag == "dd":
            if self.described is not None and self.described.description is None:
                self._start_text("description")
        elif tag == "dl":
            self.folder = self.folder.child(self.heading)
            self.heading = None
            self.described = None
        elif tag in _ENDS_TEXT:  # dt, hr, other headings
            if tag == "dt":
                self.heading = None  # a heading without a list is an empty folder
            else:
                self.described = None

    def handle_endtag(self, tag: str) -> None:
        if (
            (tag == "a" and self.capturing == "title")
            or (tag == "h3" and self.capturing == "heading")
            or (tag == "dd" and self.capturing == "description")
        ):
            self._end_text()
        elif tag == "dl":
            self._end_text()
            self.folder = self.folder.parent or ROOT
            self.heading = None
            self.described = None

    def close(self) -> None:
        super().close()
        self._end_text()  # a title or description the file ends in

    def handle_data(self, data: str) -> None:
        if self.capture is not None:
            self.capture.append(data)

    # ---------------------------------------------------------------- state

    def _start_entry(self, attrs: list[tuple[str, str | None]], after_dt: bool) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            raise InvalidArgument(f"the file holds more than {MAX_ENTRIES} bookmarks; split it")
        self.bookmark_markup |= after_dt or self.folder is not ROOT
        wanted: dict[str, str | None] = {}
        for name, value in attrs:
            if name in ("href", "add_date", "tags", "private"):
                wanted.setdefault(name, value)  # the first of a repeated attribute wins
        entry = _Entry(wanted, self.folder)
        self.entries.append(entry)
        self.described = entry
        self._start_text("title")

    def _start_text(self, what: str) -> None:
        self.capture, self.capturing = [], what

    def _end_text(self) -> None:
        if self.capture is None:
            return
        text = "".join(self.capture).strip(LAYOUT_WHITESPACE)
        what, self.capture, self.capturing = self.capturing, None, ""
        if what == "heading":
            self.heading = restore(text).strip()
        elif self.described is not None:
            if what == "title":
                self.described.title = text
            else:
                self.described.description = text


def parse(data: bytes, folders_as_tags: bool = True) -> list[Bookmark]:
    """The entries of a Netscape bookmark file, in file order. InvalidArgument when the
    data is not one (no NETSCAPE doctype and no <DT><A>/<H3> structure, binary)."""
    text = mark_whitespace_references(decode(data))
    parser = _NetscapeParser()
    try:
        for start in range(0, len(text), _SLICE):
            parser.feed(text[start : start + _SLICE])
            if len(parser.rawdata) > _MAX_PENDING:
                raise not_a_bookmark_file(
                    f"markup that never ends (an unclosed tag, quote or comment) at line {parser.getpos()[0]}"
                )
        if parser.rawdata.startswith("<"):
            # An unterminated tag at the very end: the parser would turn it into text.
            parser.rawdata = ""
        parser.close()
    except AssertionError as exc:  # how html.parser reports markup it cannot handle
        raise not_a_bookmark_file(f"unreadable markup ({exc})") from None
    if not (parser.netscape_doctype or parser.bookmark_markup):
        raise not_a_bookmark_file(
            "expected <!DOCTYPE NETSCAPE-Bookmark-file-1> or <DT><A HREF=...> entries in <DL> lists"
        )
    return [_bookmark(entry, folders_as_tags) for entry in parser.entries]


def _bookmark(entry: _Entry, folders_as_tags: bool) -> Bookmark:
    attrs = entry.attrs
    href = attrs.get("href")
    tags = fields.tags_attribute(_restored(attrs.get("tags")))
    if folders_as_tags:
        tags.update(entry.folder.tags)
    return Bookmark(
        url=None if href is None else restore(href),
        title=restore(entry.title).strip()[:MAX_TITLE_LENGTH],
        description=restore(entry.description or "")[:MAX_DESCRIPTION_LENGTH],
        tags=fields.carried_tags(tags),
        private=fields.parse_private(_restored(attrs.get("private"))),
        created_at=fields.parse_date(_restored(attrs.get("add_date"))),
        folder=entry.folder,
    )


def _restored(value: str | None) -> str | None:
    return None if value is None else restore(value)
