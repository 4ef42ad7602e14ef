"""social-graph-manager's SQL store (Postgres in production, SQLite locally)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from delinkcious.db import UTCDateTime, reader_of, transaction

# Byte order ("C") on Postgres, as SQLite's default: a locale collation would sort '-'
# differently from Python and from SQLite, and page boundaries must mean the same
# thing everywhere. It also makes the index usable for the `>` of key-based paging.
UsernameColumn = sa.String(39).with_variant(sa.String(39, collation="C"), "postgresql")

metadata = sa.MetaData()

follows = sa.Table(
    "follows",
    metadata,
    sa.Column("follower", UsernameColumn, primary_key=True),
    sa.Column("followed", UsernameColumn, primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # The primary key serves "whom does X follow"; this serves "who follows X", in
    # follower order, so a page is one range scan however many followers there are.
    sa.Index("ix_follows_followed_follower", "followed", "follower"),
)


def _insert_ignoring_duplicates(dialect: str, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: a repeated or racing follow is not an error."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(follows).values(**values).on_conflict_do_nothing()


class SqlSocialGraphStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._reader = reader_of(sessions)

    def follow(self, follower: str, followed: str, now: datetime) -> None:
        with transaction(self._sessions) as s:
            values = {"follower": follower, "followed": followed, "created_at": now}
            s.execute(_insert_ignoring_duplicates(s.get_bind().dialect.name, values))

    def unfollow(self, follower: str, followed: str) -> None:
        with transaction(self._sessions) as s:
            s.execute(
                sa.delete(follows).where(follows.c.follower == follower, follows.c.followed == followed)
            )

    def following(self, username: str) -> list[str]:
        query = (
            sa.select(follows.c.followed).where(follows.c.follower == username).order_by(follows.c.followed)
        )
        with self._reader.connect() as s:
            return list(s.execute(query).scalars())

    def followers(self, username: str) -> list[str]:
        query = (
            sa.select(follows.c.follower).where(follows.c.followed == username).order_by(follows.c.follower)
        )
        with self._reader.connect() as s:
            return list(s.execute(query).scalars())

    def followers_after(
        self, username: str, after: str | None, limit: int, followed_before: datetime | None = None
    ) -> list[str]:
        # Keyset, never OFFSET: the database seeks to `after` in the index instead of
        # reading and discarding every earlier follower.
        query = sa.select(follows.c.follower).where(follows.c.followed == username)
        if followed_before is not None:
            query = query.where(follows.c.created_at <= followed_before)
        if after is not None:
            query = query.where(follows.c.follower > after)
        query = query.order_by(follows.c.follower).limit(limit)
        with self._reader.connect() as s:
            return list(s.execute(query).scalars())
