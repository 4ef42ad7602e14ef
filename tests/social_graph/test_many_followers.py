"""A user with 100,000 followers, paged through on Postgres: every follower exactly
once, in order, each page one index range scan."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from delinkcious.db import create_db_engine, make_sessionmaker
from delinkcious.migrations import upgrade_to_head
from delinkcious.pagination import PageTokenCodec
from social_graph_service.service import MAX_FOLLOWERS_PAGE, SocialGraphService
from social_graph_service.sql_store import SqlSocialGraphStore, follows
from social_graph_service.transport import MIGRATIONS
from tests.social_graph.support import PAGE_TOKEN_KEY, FakeDirectory

FOLLOWERS = 100_000
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def follower_names() -> list[str]:
    """Unique, valid usernames in no particular order, some with '-' in them."""
    names = {
        ("x-" if i % 7 == 0 else "") + hashlib.sha256(str(i).encode()).hexdigest()[:14]
        for i in range(FOLLOWERS)
    }
    assert len(names) == FOLLOWERS
    shuffled = sorted(names)
    random.Random(42).shuffle(shuffled)
    return shuffled


async def test_paging_through_100000_followers(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    try:
        upgrade_to_head(engine, MIGRATIONS, "alembic_version_social_graph_manager")
        names = follower_names()
        with engine.begin() as conn:
            conn.execute(
                sa.insert(follows),
                [{"follower": n, "followed": "star", "created_at": NOW} for n in names],
            )
            # Noise: other users' follows must not leak into the walk.
            conn.execute(
                sa.insert(follows),
                [{"follower": "star", "followed": n, "created_at": NOW} for n in names[:1000]],
            )
            conn.execute(sa.text("ANALYZE follows"))

        statements: list[tuple[str, Any]] = []

        @sa.event.listens_for(engine, "before_cursor_execute")
        def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if "FROM follows" in statement:
                statements.append((statement, params))

        service = SocialGraphService(
            SqlSocialGraphStore(make_sessionmaker(engine)),
            FakeDirectory(),
            PageTokenCodec(PAGE_TOKEN_KEY.encode()),
        )
        seen: list[str] = []
        token, pages = "", 0
        while True:
            page = await service.followers_page("star", MAX_FOLLOWERS_PAGE, token)
            pages += 1
            assert len(page.followers) == MAX_FOLLOWERS_PAGE or not page.next_page_token
            seen.extend(page.followers)
            if not page.next_page_token:
                break
            token = page.next_page_token

        assert pages == FOLLOWERS // MAX_FOLLOWERS_PAGE
        assert len(seen) == len(set(seen)) == FOLLOWERS
        assert seen == sorted(names)

        # Every page was a keyset query (no OFFSET), and the planner answers it from the
        # (followed, follower) index in order, with no sort of the whole follower set.
        assert len(statements) == pages
        assert not any("OFFSET" in sql.upper() for sql, _ in statements)
        sql, params = statements[len(statements) // 2]
        with engine.connect() as conn:
            plan = "\n".join(conn.exec_driver_sql("EXPLAIN " + sql, params).scalars())
        assert "ix_follows_followed_follower" in plan, plan
        assert "Sort" not in plan, plan
    finally:
        engine.dispose()
