"""Small helpers shared by the user-manager tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from delinkcious.models import Identity
from user_service.transport import MIGRATIONS

__all__ = ["MIGRATIONS", "VERSION_TABLE", "FakeClock", "dump_database", "identity"]

VERSION_TABLE = "alembic_version_user_manager"


class FakeClock:
    """A clock the test moves by hand, so expiry is tested without waiting."""

    def __init__(self, start: datetime = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def identity(
    username: str,
    *,
    provider: str = "github",
    subject: str | None = None,
    name: str | None = None,
    email: str | None = None,
) -> Identity:
    return Identity(
        provider=provider,
        subject=subject if subject is not None else f"subject-of-{username.lower()}",
        username=username,
        name=name,
        email=email,
    )


def dump_database(engine: sa.Engine) -> str:
    """Every row of every table as text: what someone who stole the database would see."""
    rows: list[str] = []
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows.extend(f"{table.name}: {row!r}" for row in conn.execute(sa.select(table)))
    return "\n".join(rows)
