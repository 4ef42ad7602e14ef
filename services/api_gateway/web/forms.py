"""Reading HTML forms: text fields, tag lists as people type them, and validation
errors in words for the page."""

from __future__ import annotations

import re

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData

_TAG_SEPARATORS = re.compile(r"[\s,]+")


async def form_of(request: Request) -> FormData:
    return await request.form()


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def optional(value: str | None) -> str | None:
    """An empty search field means no filter."""
    return value if value else None


def split_tags(value: str) -> list[str]:
    """Tags as typed: separated by spaces or commas (neither can be part of a tag)."""
    return [t for t in _TAG_SEPARATORS.split(value) if t]


# The models' patterns document shapes for OpenAPI; people get the rule in words.
_PATTERN_RULES = {
    "url": "must be an absolute http or https URL",
    "username": "a username is 1-39 characters of a-z, 0-9 and '-', not starting with '-'",
    "followed": "a username is 1-39 characters of a-z, 0-9 and '-', not starting with '-'",
}


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "string_pattern_mismatch":
            msg = _PATTERN_RULES.get(where, "is not in the expected form")
        parts.append(f"{where.replace('_', ' ')}: {msg}" if where else msg)
    return "; ".join(parts) or "invalid input"
