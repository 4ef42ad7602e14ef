"""A Pinboard call's arguments: the query string, and on a POST the form body too, read
with Pinboard's conventions (yes/no, space-separated tags, 2010-12-11T19:48:02Z dates).

A bad argument is an InvalidArgument whose message is the answer's result code, so the
client sees it where Pinboard puts its own failures."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl

from fastapi import Request

from delinkcious.errors import InvalidArgument
from delinkcious.models import normalize_tag

FORM = "application/x-www-form-urlencoded"
MAX_FILTER_TAGS = 3  # posts/get, posts/recent, posts/dates and posts/all filter by up to three
_YES = {"yes", "1", "true", "on"}
_NO = {"no", "0", "false", "off"}
# Pinboard separates tags by whitespace; old Delicious clients used commas.
_TAG_SEPARATORS = re.compile(r"[\s,]+")
_INTEGER = re.compile(r"^\s*\d{1,9}\s*$")


class Params:
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def get(self, name: str) -> str | None:
        for key, value in self._items:
            if key == name:
                return value
        return None

    def given(self, name: str) -> bool:
        return self.get(name) is not None

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None or not value.strip():
            raise InvalidArgument(f"missing {name}")
        return value

    def yes_no(self, name: str, default: bool | None) -> bool | None:
        value = self.get(name)
        if value is None or not value.strip():
            return default
        word = value.strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
        raise InvalidArgument(f"{name} must be yes or no")

    def tags(self, *names: str) -> list[str]:
        """Every value of the first of `names` that is given, split at whitespace and commas."""
        for name in names:
            values = [value for key, value in self._items if key == name]
            if values:
                return [tag for value in values for tag in _TAG_SEPARATORS.split(value) if tag]
        return []

    def filter_tags(self) -> list[str]:
        """The tags to filter by, trimmed and lowercased as link tags are; one that no
        link could carry (a NUL in it, too long) is a bad argument, as in posts/add."""
        # `tags` too: some clients (aiopinboard) send the filter under that name.
        tags = self.tags("tag", "tags")
        if len(tags) > MAX_FILTER_TAGS:
            raise InvalidArgument(f"filter by at most {MAX_FILTER_TAGS} tags")
        try:
            return [normalize_tag(tag) for tag in tags]
        except ValueError as exc:
            raise InvalidArgument(f"tag: {exc}") from None

    def integer(self, name: str, default: int | None) -> int | None:
        value = self.get(name)
        if value is None or not value.strip():
            return default
        if not _INTEGER.match(value):
            raise InvalidArgument(f"{name} must be a whole number")
        return int(value)

    def datetime(self, name: str) -> datetime | None:
        value = self.get(name)
        if value is None or not value.strip():
            return None
        parsed = parse_datetime(value)
        if parsed is None:
            raise InvalidArgument(f"{name} must be a date like 2010-12-11T19:48:02Z")
        return parsed

    def date(self, name: str) -> date | None:
        moment = self.datetime(name)
        return None if moment is None else moment.date()


def parse_datetime(value: str) -> datetime | None:
    """Pinboard's 2010-12-11T19:48:02Z, and the ISO 8601 forms clients actually send
    (datetime.isoformat() with an offset, fractions, or none: then UTC), or a bare date."""
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


async def read_params(request: Request) -> Params:
    items = list(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and content_type == FORM:
        body = (await request.body()).decode("utf-8", errors="replace")
        items += parse_qsl(body, keep_blank_values=True)
    return Params(items)
