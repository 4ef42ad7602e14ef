"""The store contract, checked on Postgres, on SQLite and on the in-memory store the
unit tests rely on: all three must answer alike."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from delinkcious.db import create_db_engine, make_sessionmaker
from delinkcious.migrations import upgrade_to_head
from social_graph_service.sql_store import SqlSocialGraphStore, follows
from social_graph_service.store import InMemorySocialGraphStore, SocialGraphStore
from social_graph_service.transport import MIGRATIONS

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
VERSION_TABLE = "alembic_version_social_graph_manager"


def follows_idempotently(store: SocialGraphStore) -> None:
    store.follow("alice", "bob", NOW)
    store.follow("alice", "bob", NOW)
    assert store.following("alice") == ["bob"]
    assert store.followers("bob") == ["alice"]


def unfollows_idempotently(store: SocialGraphStore) -> None:
    store.unfollow("alice", "bob")
    store.follow("alice", "bob", NOW)
    store.follow("carol", "bob", NOW)
    store.unfollow("alice", "bob")
    store.unfollow("alice", "bob")
    assert store.following("alice") == []
    assert store.followers("bob") == ["carol"]


def direction_matters(store: SocialGraphStore) -> None:
    store.follow("alice", "bob", NOW)
    assert store.following("bob") == []
    assert store.followers("alice") == []
    assert store.followers_after("alice", None, 10) == []


def sorts_by_bytes(store: SocialGraphStore) -> None:
    # '-' sorts before digits and letters by bytes; a locale collation would disagree.
    names = ["b", "a-b", "ab", "a0", "a", "z9", "a-", "0z", "ba"]
    for name in names:
        store.follow(name, "target", NOW)
        store.follow("target", name, NOW)
    assert store.followers("target") == sorted(names)
    assert store.following("target") == sorted(names)


def pages_by_key(store: SocialGraphStore) -> None:
    names = ["bob", "carol", "dave", "erin", "frank"]
    for name in reversed(names):
        store.follow(name, "alice", NOW)
    assert store.followers_after("alice", None, 2) == ["bob", "carol"]
    assert store.followers_after("alice", "carol", 2) == ["dave", "erin"]
    assert store.followers_after("alice", "erin", 2) == ["frank"]
    assert store.followers_after("alice", "frank", 2) == []
    # The key need not be a current follower: the walk resumes after wherever it was.
    assert store.followers_after("alice", "cat", 10) == ["dave", "erin", "frank"]
    assert store.followers_after("alice", None, 100) == names


def keeps_users_apart(store: SocialGraphStore) -> None:
    store.follow("bob", "alice", NOW)
    store.follow("carol", "erin", NOW)
    assert store.followers_after("alice", None, 10) == ["bob"]
    assert store.followers_after("erin", None, 10) == ["carol"]
    assert store.following("bob") == ["alice"]


def cuts_off_at_the_moment_of_following(store: SocialGraphStore) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    store.follow("early", "author", t0)
    store.follow("late", "author", t0 + timedelta(seconds=10))
    assert store.followers_after("author", None, 10) == ["early", "late"]
    assert store.followers_after("author", None, 10, followed_before=t0 + timedelta(seconds=5)) == ["early"]
    assert store.followers_after("author", None, 10, followed_before=t0) == ["early"]
    assert store.followers_after("author", None, 10, followed_before=t0 - timedelta(seconds=1)) == []
    store.follow("early", "author", t0 + timedelta(seconds=20))  # following again keeps the first time
    assert store.followers_after("author", None, 10, followed_before=t0 + timedelta(seconds=5)) == ["early"]


CASES: list[Callable[[SocialGraphStore], None]] = [
    cuts_off_at_the_moment_of_following,
    follows_idempotently,
    unfollows_idempotently,
    direction_matters,
    sorts_by_bytes,
    pages_by_key,
    keeps_users_apart,
]


def migrated_store(url: str) -> tuple[SqlSocialGraphStore, sa.Engine]:
    engine = create_db_engine(url)
    upgrade_to_head(engine, MIGRATIONS, VERSION_TABLE)
    return SqlSocialGraphStore(make_sessionmaker(engine)), engine


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_sql_store(case: Callable[[SocialGraphStore], None], database_url: str) -> None:
    store, engine = migrated_store(database_url)
    try:
        case(store)
    finally:
        engine.dispose()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_in_memory_store(case: Callable[[SocialGraphStore], None]) -> None:
    case(InMemorySocialGraphStore())


def test_follow_keeps_its_first_time(database_url: str) -> None:
    store, engine = migrated_store(database_url)
    try:
        store.follow("alice", "bob", NOW)
        store.follow("alice", "bob", datetime(2027, 1, 1, tzinfo=UTC))
        with engine.connect() as conn:
            created = conn.execute(sa.select(follows.c.created_at)).scalars().all()
        assert created == [NOW]
    finally:
        engine.dispose()


def test_migrations_are_recorded_in_their_own_table_and_rerun_cleanly(database_url: str) -> None:
    _, engine = migrated_store(database_url)
    try:
        upgrade_to_head(engine, MIGRATIONS, VERSION_TABLE)  # a restart: nothing to do
        inspector = sa.inspect(engine)
        assert {"follows", VERSION_TABLE} <= set(inspector.get_table_names())
        assert "alembic_version" not in inspector.get_table_names()
        indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("follows")}
        assert indexes["ix_follows_followed_follower"] == ["followed", "follower"]
        assert inspector.get_pk_constraint("follows")["constrained_columns"] == ["follower", "followed"]
        if engine.dialect.name == "postgresql":
            # Byte order whatever the server's locale, so pages agree with SQLite and Python.
            with engine.connect() as conn:
                collations: dict[str, str] = dict(
                    conn.execute(
                        sa.text(
                            "SELECT column_name, collation_name FROM information_schema.columns"
                            " WHERE table_name = 'follows' AND data_type <> 'timestamp with time zone'"
                        )
                    ).all()
                )
            assert collations == {"follower": "C", "followed": "C"}
    finally:
        engine.dispose()


def test_racing_identical_follows_all_succeed_with_one_row(database_url: str) -> None:
    store, engine = migrated_store(database_url)
    try:
        barrier = threading.Barrier(8)

        def follow() -> None:
            barrier.wait()
            store.follow("alice", "bob", NOW)

        with ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(follow) for _ in range(8)]:
                future.result()
        assert store.followers("bob") == ["alice"]
    finally:
        engine.dispose()
