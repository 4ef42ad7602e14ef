"""Finding an HTML page's `<title>` while reading as little of the page as possible.

The body is read only until the title ends or the byte limit is reached, counted
after decompression, so a small compressed response cannot expand into a large one.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import AsyncIterator

from delinkcious.models import MAX_TITLE_LENGTH

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_TITLE_END = re.compile(rb"</title", re.IGNORECASE)
_TITLE = re.compile(rb"<title\b[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{1,40})""", re.IGNORECASE)


def is_html(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in HTML_TYPES


class _Unsupported(Exception):
    pass


class _Inflater:
    """Decodes gzip/deflate bodies (sent even though we ask for identity) with the
    output bounded on every call."""

    def __init__(self, content_encoding: str | None) -> None:
        encoding = (content_encoding or "identity").strip().lower()
        self._z: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._z = zlib.decompressobj(wbits=47)  # 32 + 15: zlib or gzip header, detected
        elif encoding not in ("", "identity"):
            raise _Unsupported(encoding)

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._z is None:
            return data[:limit]
        # Unconsumed input is dropped: once `limit` bytes came out, reading stops.
        return self._z.decompress(data, limit)


async def read_title(
    chunks: AsyncIterator[bytes], *, content_encoding: str | None, charset: str | None, max_bytes: int
) -> str | None:
    """Reads at most `max_bytes` (decoded) and stops as soon as the title has ended."""
    try:
        inflater = _Inflater(content_encoding)
    except _Unsupported:
        return None
    buffer = bytearray()
    scan_from = 0
    async for chunk in chunks:
        try:
            buffer += inflater.feed(chunk, max_bytes - len(buffer))
        except zlib.error:
            return None
        if _TITLE_END.search(buffer, scan_from) or len(buffer) >= max_bytes:
            break
        # Only the new bytes (plus a partial "</title" at the seam) need scanning.
        scan_from = max(0, len(buffer) - len(b"</title"))
    return extract_title(bytes(buffer), charset)


def extract_title(body: bytes, charset: str | None) -> str | None:
    match = _TITLE.search(body)
    if match is None:
        return None
    raw = match.group(1)
    meta = _META_CHARSET.search(body, 0, match.start())
    candidates = [charset, meta.group(1).decode("ascii") if meta else None, "utf-8"]
    text = _decode(raw, [c for c in candidates if c])
    title = " ".join(html.unescape(text).split())
    return title[:MAX_TITLE_LENGTH] or None


def _decode(raw: bytes, encodings: list[str]) -> str:
    for encoding in encodings:
        try:
            return raw.decode(encoding, errors="replace")
        except LookupError:  # unknown, or not a text encoding (e.g. "rot13")
            continue
    return raw.decode("utf-8", errors="replace")
