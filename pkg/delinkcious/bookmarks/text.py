"""From the bytes of an uploaded file to text the HTML parser can read.

Exports come in UTF-8 (every current browser and bookmark manager), UTF-16 with a
byte order mark (old Windows tools) or a legacy code page named in a <META charset>
(or not named at all: Windows-1252, as Internet Explorer wrote them).
"""

from __future__ import annotations

import codecs
import re

from delinkcious.errors import InvalidArgument

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
_LEGACY_DEFAULT = "cp1252"


def not_a_bookmark_file(reason: str) -> InvalidArgument:
    return InvalidArgument(f"not a Netscape bookmark file: {reason}")


def decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data[len(bom) :].decode(encoding, errors="replace"))
    if data[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a byte order mark
        return _checked(data.decode("utf-16-le" if data[0] else "utf-16-be", errors="replace"))
    if b"\x00" in data:
        raise not_a_bookmark_file("the file is binary (it contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _DECLARED_CHARSET.search(data[:4096])
    encoding = declared.group(1).decode("ascii") if declared else _LEGACY_DEFAULT
    try:
        return data.decode(encoding, errors="replace")
    except (LookupError, ValueError):  # unknown name, or not a text encoding (e.g. base64)
        return data.decode(_LEGACY_DEFAULT, errors="replace")


def _checked(text: str) -> str:
    if "\x00" in text:
        raise not_a_bookmark_file("the file is binary (it contains NUL characters)")
    return text


# html.parser decodes character references before handlers see the text, so
# whitespace a description itself starts or ends with (which our export writes as
# references) would look like the layout whitespace around it that exports add.
# Such references are swapped for a marker first and restored after trimming. The
# marker is a noncharacter no reference can produce; a literal one is escaped too.
_MARK = "\ufdd0"
_WHITESPACE_REFS = re.compile(r"&#(?:[xX]0*(9|[aAcCdD]|20)|0*(9|10|12|13|32));")
_CODE_OF = {"9": "t", "a": "n", "c": "f", "d": "r", "20": "s", "10": "n", "12": "f", "13": "r", "32": "s"}
_CHAR_OF = {"t": "\t", "n": "\n", "f": "\f", "r": "\r", "s": " ", "x": _MARK}
_MARKED = re.compile(_MARK + "(.?)", re.DOTALL)

# What HTML calls whitespace: the layout around text that parsing may drop.
LAYOUT_WHITESPACE = " \t\n\r\f"


def mark_whitespace_references(text: str) -> str:
    text = text.replace(_MARK, _MARK + "x")
    return _WHITESPACE_REFS.sub(lambda m: _MARK + _CODE_OF[(m.group(1) or m.group(2)).lower()], text)


def restore(text: str) -> str:
    if _MARK not in text:
        return text
    return _MARKED.sub(lambda m: _CHAR_OF.get(m.group(1), ""), text)
