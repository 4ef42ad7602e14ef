"""Durations in settings: "7d", "12h", "30m", "45s", "250ms" or plain seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _PATTERN.match(str(value))
    if not match:
        raise ValueError("a duration is a number with an optional unit: ms, s, m, h or d (e.g. 7d)")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2] or "s"])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
