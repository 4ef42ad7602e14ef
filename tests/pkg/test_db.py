"""db helpers on real Postgres and SQLite: the regex operator and UTC timestamps must
behave the same on both, since local runs use SQLite and production uses Postgres."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from delinkcious.db import UTCDateTime, check_regex, create_db_engine, is_bad_regex_error, regex_match
from delinkcious.errors import InvalidArgument

metadata = sa.MetaData()
texts = sa.Table(
    "texts", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("value", sa.Text)
)
times = sa.Table(
    "times", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime())
)

VALUES = [
    "Hello World",
    "hello",
    "HELLO THERE",
    "abc123",
    "foo_bar",
    "a.b",
    "x+y",
    "cat",
    "concatenate",
    "the cat sat",
    "tab\there",
    "line1\nline2",
    "back\\slash",
    "café",
    "CAFÉ",
    "",
    None,
]

# (what it shows, pattern, the values it must match: case-insensitively, anywhere)
PATTERNS: list[tuple[str, str, set[str]]] = [
    ("plain word", "hello", {"Hello World", "hello", "HELLO THERE"}),
    ("case-insensitive pattern", "HeLLo", {"Hello World", "hello", "HELLO THERE"}),
    ("case-insensitive non-ASCII", "É", {"café", "CAFÉ"}),
    ("anywhere, not only at the start", "world", {"Hello World"}),
    ("start anchor", "^hello", {"Hello World", "hello", "HELLO THERE"}),
    ("end anchor", "world$", {"Hello World"}),
    ("both anchors", "^hello$", {"hello"}),
    ("empty string", "^$", {""}),
    ("anchors are whole-value, not per line", "^line2", set()),
    ("anchors are whole-value, not per line (end)", "line1$", set()),
    ("alternation", "cat|world", {"Hello World", "cat", "concatenate", "the cat sat"}),
    ("grouped alternation", "^(cat|hello)$", {"cat", "hello"}),
    ("range class", "[0-9]", {"abc123", "line1\nline2"}),
    (
        "negated class",
        "^[^0-9]+$",
        {
            "Hello World",
            "hello",
            "HELLO THERE",
            "foo_bar",
            "a.b",
            "x+y",
            "cat",
            "concatenate",
            "the cat sat",
            "tab\there",
            "back\\slash",
            "café",
            "CAFÉ",
        },
    ),
    ("POSIX class", "[[:digit:]]{3}", {"abc123"}),
    ("digit escape", "\\d+$", {"abc123", "line1\nline2"}),
    ("space escape", "\\s", {"Hello World", "HELLO THERE", "the cat sat", "tab\there", "line1\nline2"}),
    # (\w on non-ASCII letters follows the database's locale on Postgres, so only ASCII here.)
    ("word escape", "^\\w+_\\w+$", {"foo_bar"}),
    ("escaped dot", "a\\.b", {"a.b"}),
    ("escaped plus", "x\\+y", {"x+y"}),
    ("escaped backslash", "\\\\", {"back\\slash"}),
    ("tab escape", "\\t", {"tab\there"}),
    ("newline escape", "\\n", {"line1\nline2"}),
    ("bounded repeat", "l{2}", {"Hello World", "hello", "HELLO THERE"}),
    ("inline flag", "(?i)CAT", {"cat", "concatenate", "the cat sat"}),
    ("dot", "a.b", {"a.b"}),
    # Postgres's '.' matches a newline (it is not in newline-sensitive mode); RE2's does
    # not unless told to. Titles and descriptions can hold newlines.
    ("dot matches a newline", "1.l", {"line1\nline2"}),
]

# Valid in both engines but read differently: Postgres takes \b for a backspace and
# \B for a backslash, RE2 (and every other engine users know) for word boundaries.
# The same filter would silently return different links on SQLite and Postgres.
AMBIGUOUS = ["\\bcat\\b", "\\Bcat", "x\\b", "\\B"]


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(database_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def matches(engine: sa.Engine, pattern: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(texts.c.value).where(regex_match(texts.c.value, pattern)))
        return {row.value for row in rows}


def test_regex_match_means_the_same_on_both_databases(engine: sa.Engine, subtests: pytest.Subtests) -> None:
    with engine.begin() as conn:
        conn.execute(texts.insert(), [{"id": i, "value": v} for i, v in enumerate(VALUES)])
    for what, pattern, expected in PATTERNS:
        with subtests.test(what, pattern=pattern):
            check_regex(pattern, "title_regex")  # every pattern here is valid
            assert matches(engine, pattern) == expected


def test_regex_match_binds_the_pattern_as_a_parameter(engine: sa.Engine) -> None:
    # A quote in the pattern must not end up in the SQL text.
    with engine.begin() as conn:
        conn.execute(texts.insert(), [{"id": 1, "value": "it's"}, {"id": 2, "value": "its"}])
    assert matches(engine, "'s") == {"it's"}
    assert matches(engine, "' OR '1'='1") == set()


@pytest.mark.parametrize("pattern", ["(", "[a-", "a)", "*a", "a{2,1}", "(?P<x", "\\", "a**", "(a)\\1"])
def test_check_regex_rejects_invalid_patterns(pattern: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_regex(pattern, "title_regex")
    assert refused.value.message.startswith("title_regex is not a valid regular expression")


def test_check_regex_rejects_patterns_the_two_databases_read_differently() -> None:
    accepted = []
    for pattern in AMBIGUOUS:
        try:
            check_regex(pattern, "title_regex")
        except InvalidArgument:
            continue
        accepted.append(pattern)
    assert accepted == [], f"accepted, yet Postgres and SQLite disagree on: {accepted}"


@pytest.mark.parametrize("pattern", ["cat\\z", "\\pL"])
def test_patterns_only_postgres_rejects_are_recognised_as_bad_regexes(
    postgres_url: str, pattern: str
) -> None:
    """RE2 accepts these, Postgres does not: stores turn that error into a 400."""
    engine = create_db_engine(postgres_url)
    try:
        metadata.create_all(engine)
        check_regex(pattern, "url_regex")
        with pytest.raises(sa.exc.DBAPIError) as failed:
            matches(engine, pattern)
        assert is_bad_regex_error(failed.value)
    finally:
        engine.dispose()


def _other_session_time_zone(dbapi_conn: Any, _record: Any) -> None:
    with dbapi_conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'Pacific/Auckland'")


def test_utc_datetime_round_trip(engine: sa.Engine) -> None:
    if engine.dialect.name == "postgresql":
        # Reading must convert to UTC whatever zone the server answers in.
        sa.event.listen(engine, "connect", _other_session_time_zone)
        engine.dispose()
    instant = datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)
    given = {
        1: instant,
        2: instant.astimezone(timezone(timedelta(hours=5, minutes=30))),
        3: instant.astimezone(timezone(timedelta(hours=-8))),
        4: instant.replace(tzinfo=None),  # naive values are taken as UTC
        5: None,
    }
    with engine.begin() as conn:
        conn.execute(times.insert(), [{"id": k, "at": v} for k, v in given.items()])
    with engine.connect() as conn:
        back = {row.id: row.at for row in conn.execute(sa.select(times.c.id, times.c.at))}

    assert back[5] is None
    for key in (1, 2, 3, 4):
        assert back[key] == instant
        assert back[key].tzinfo == UTC
        assert back[key].isoformat() == "2026-06-30T23:59:59.999999+00:00"


def test_utc_datetime_orders_by_instant(engine: sa.Engine) -> None:
    base = datetime(2026, 1, 1, 12, tzinfo=UTC)
    # Written in different zones; the order must be by instant, not by wall-clock text.
    rows = {
        1: base.astimezone(timezone(timedelta(hours=10))),
        2: base + timedelta(minutes=1),
        3: (base - timedelta(minutes=1)).astimezone(timezone(timedelta(hours=-10))),
    }
    with engine.begin() as conn:
        conn.execute(times.insert(), [{"id": k, "at": v} for k, v in rows.items()])
    with engine.connect() as conn:
        order = conn.execute(sa.select(times.c.id).order_by(times.c.at)).scalars().all()
    assert order == [3, 1, 2]


def test_a_new_sqlite_connection_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    """Two services' first starts (or a migration and a request) open the same new file at
    once. While one holds the write lock, another's connect must wait its busy timeout,
    not fail at once with "database is locked" (switching to WAL does not wait by itself)."""
    path = tmp_path / "busy.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    # Ends the write well inside the 30 s busy timeout; a connect that waits succeeds.
    release = threading.Timer(0.5, writer.execute, ["COMMIT"])
    release.start()
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        try:
            conn = engine.connect()
        except sa.exc.OperationalError as exc:
            pytest.fail(f"connect failed at once instead of waiting for the writer: {exc.orig}")
        with conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 1
    finally:
        release.join()
        writer.close()
        engine.dispose()
