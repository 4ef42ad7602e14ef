"""The (created_at, id) page positions, and tokens that accept only their own spelling."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest

from delinkcious.errors import InvalidArgument
from delinkcious.pagination import PageTokenCodec, parse_time_position, time_position

ALPHABET = string.ascii_letters + string.digits + "-_"


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_time_positions_round_trip_to_the_microsecond(at: datetime) -> None:
    assert parse_time_position(time_position(at, 42)) == (at, 42)


@pytest.mark.parametrize("raw", [7, None, [1], [1, "2"], [1.5, 2], [False, 2], [10**18, 1], "x"])
def test_anything_else_is_invalid_argument(raw: object) -> None:
    with pytest.raises(InvalidArgument):
        parse_time_position(raw)


def test_every_one_character_change_to_a_token_is_rejected() -> None:
    codec = PageTokenCodec(b"k" * 32)
    query = {"owner": "alice"}
    for n in range(12):  # tokens of every length modulo 4, spare low bits included
        token = codec.encode([n * 1_000_003, n], query)
        for i in range(len(token)):
            for other in ALPHABET:
                if other == token[i]:
                    continue
                changed = token[:i] + other + token[i + 1 :]
                with pytest.raises(InvalidArgument):
                    codec.decode(changed, query)
