"""How Pinboard arguments are read: the forms real clients send them in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api_gateway.pinboard.params import Params, parse_datetime
from delinkcious.errors import InvalidArgument


@pytest.mark.parametrize(
    "text",
    [
        "2010-12-11T19:48:02Z",  # Pinboard's own format
        "2010-12-11T19:48:02+00:00",  # datetime.isoformat() of an aware time (aiopinboard)
        "2010-12-11T20:48:02+01:00",
        "2010-12-11T19:48:02",  # naive: UTC
        " 2010-12-11T19:48:02.000Z ",
    ],
)
def test_datetimes_in_the_forms_clients_send(text: str) -> None:
    assert parse_datetime(text) == datetime(2010, 12, 11, 19, 48, 2, tzinfo=UTC)


def test_a_bare_date_is_midnight_and_nonsense_is_refused() -> None:
    assert parse_datetime("2010-12-11") == datetime(2010, 12, 11, tzinfo=UTC)
    with pytest.raises(InvalidArgument, match="dt must be a date"):
        Params([("dt", "yesterday")]).datetime("dt")


def test_yes_no_and_the_defaults() -> None:
    params = Params([("shared", "no"), ("toread", "YES"), ("meta", "1"), ("replace", ""), ("odd", "maybe")])
    assert params.yes_no("shared", True) is False
    assert params.yes_no("toread", False) is True
    assert params.yes_no("meta", False) is True  # the `pinboard` package sends meta as 1/0
    assert params.yes_no("replace", True) is True and params.yes_no("absent", None) is None
    with pytest.raises(InvalidArgument, match="odd must be yes or no"):
        params.yes_no("odd", None)


def test_tags_split_at_whitespace_and_commas_and_filters_take_three() -> None:
    assert Params([("tags", "a  b,c\td")]).tags("tags") == ["a", "b", "c", "d"]
    assert Params([("tag", "x"), ("tag", "y z")]).filter_tags() == ["x", "y", "z"]
    assert Params([("tags", "p q")]).filter_tags() == ["p", "q"]  # aiopinboard's name for it
    with pytest.raises(InvalidArgument, match="at most 3"):
        Params([("tag", "a b c d")]).filter_tags()


def test_required_and_whole_numbers() -> None:
    params = Params([("url", "  "), ("count", "12"), ("start", "-1")])
    with pytest.raises(InvalidArgument, match=r"^missing url$"):
        params.required("url")
    assert params.integer("count", 15) == 12 and params.integer("results", None) is None
    with pytest.raises(InvalidArgument, match="start must be a whole number"):
        params.integer("start", 0)
