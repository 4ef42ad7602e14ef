"""The attribute values of an entry as Delinkcious reads them: dates, the private
flag, tags and folder names turned into tags."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from delinkcious.models import MAX_TAGS, normalize_tag

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TOO_LATE = datetime(3000, 1, 1, tzinfo=UTC)  # past this a date is garbage, whatever the unit
_NUMBER = re.compile(r"\s*(\d{1,20})(?:\.(\d{0,6})\d*)?\s*")
_WHITESPACE_RUN = re.compile(r"\s+")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

# An entry with more tags than this fails in link-manager; carrying more than one
# over the limit would only make the request bigger.
TAGS_CARRIED = MAX_TAGS + 1


def parse_date(value: str | None) -> datetime | None:
    """ADD_DATE in seconds, milliseconds or microseconds since the epoch (exports use
    all three); None when it is missing, zero, unreadable or past the year 2999."""
    match = _NUMBER.fullmatch(value or "")
    if match is None:
        return None
    whole, fraction = int(match.group(1)), match.group(2) or ""
    if whole == 0:
        return None
    # 10^11 s is the year 5138, 10^11 ms is 1973: the magnitude tells the unit.
    if whole < 10**11:
        micros = whole * 10**6 + int(fraction.ljust(6, "0"))
    elif whole < 10**14:
        micros = whole * 10**3
    elif whole < 10**17:
        micros = whole
    else:
        micros = whole // 10**3  # nanoseconds
    try:
        date = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return None
    return date if date < _TOO_LATE else None


def parse_private(value: str | None) -> bool | None:
    if value is None:
        return None
    flag = value.strip().lower()
    if flag in _TRUE:
        return True
    if flag in _FALSE:
        return False
    return None


def tag_or_none(value: str) -> str | None:
    try:
        return normalize_tag(value)
    except ValueError:
        return None


def tags_attribute(value: str | None) -> set[str]:
    """TAGS is comma-separated; a tag that cannot be made valid is dropped."""
    if not value:
        return set()
    return {tag for tag in map(tag_or_none, value.split(",")) if tag is not None}


def folder_tag(name: str) -> str | None:
    """A folder name as a tag: lowercased, whitespace runs become '-', commas dropped."""
    return tag_or_none(_WHITESPACE_RUN.sub("-", name.strip().lower()).replace(",", ""))


def carried_tags(tags: set[str]) -> list[str]:
    return sorted(tags)[:TAGS_CARRIED]
