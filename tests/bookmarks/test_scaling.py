"""The reader stays linear: deep folders, many entries and markup that never ends
cost time in proportion to their size, and nothing recurses."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest

from delinkcious.bookmarks import MAX_ENTRIES, parse
from delinkcious.errors import InvalidArgument

HEAD = b"<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n"


def nested(depth: int) -> bytes:
    opening = b"".join(
        b'<DT><H3>Folder %d</H3>\n<DL><p>\n<DT><A HREF="https://deep.example/%d">t</A>\n' % (i, i)
        for i in range(depth)
    )
    return HEAD + opening + b"</DL><p>\n" * (depth + 1)


def flat(count: int) -> bytes:
    return HEAD + b"".join(
        b'<DT><A HREF="https://flat.example/%d" ADD_DATE="1700000000" TAGS="a,b">Title %d</A>\n<DD>note %d\n'
        % (i, i, i)
        for i in range(count)
    )


def cpu_seconds(work: Callable[[], object]) -> float:
    """The least CPU time of a few runs: other processes on the machine do not count."""
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def test_folders_nested_10000_deep() -> None:
    entries = parse(nested(10_000))
    assert len(entries) == 10_000
    deepest = entries[-1]
    assert len(deepest.folders) == 10_000 and deepest.folders[-1] == "Folder 9999"
    # Every folder is a tag, so the entry carries one more than a link may have:
    # link-manager refuses it with the 50-tag message.
    assert len(deepest.tags) == 51
    assert entries[0].tags == ["folder-0"]


def test_50000_entries() -> None:
    entries = parse(flat(50_000))
    assert len(entries) == 50_000
    assert entries[-1].url == "https://flat.example/49999" and entries[-1].description == "note 49999"


@pytest.mark.parametrize("make", [nested, flat], ids=["nesting", "entries"])
def test_time_grows_linearly(make: Callable[[int], bytes]) -> None:
    small, large = make(1_000), make(4_000)
    ratio = cpu_seconds(lambda: parse(large)) / cpu_seconds(lambda: parse(small))
    assert ratio < 8, f"4x the input took {ratio:.1f}x the time"  # quadratic would be ~16x


@pytest.mark.parametrize(
    "junk",
    [b"<a", b"</", b"<!--", b"&#", b"<!", b"<?", b"&", b"<a b='c>", b'<A HREF="'],
    ids=lambda junk: junk.decode(),
)
def test_markup_that_never_ends_is_cheap(junk: bytes) -> None:
    data = HEAD + b'<DT><A HREF="https://a.example/">a</A>\n' + junk * (4 * 1024 * 1024 // len(junk))
    started = time.process_time()
    with contextlib.suppress(InvalidArgument):
        parse(data)
    assert time.process_time() - started < 15


def test_more_entries_than_one_import_takes() -> None:
    with pytest.raises(InvalidArgument, match=f"more than {MAX_ENTRIES} bookmarks"):
        parse(HEAD + b'<DT><A HREF="https://a.example/">a</A>\n' * (MAX_ENTRIES + 1))
