"""Schema migrations with Alembic, applied by each service at start.

Every service keeps its revisions in its own `migrations/` folder and its own
version table, so services never step on each other even when they share a
database server. On Postgres an advisory lock makes concurrent starts (several
replicas, or a migration Job racing a pod) apply each revision exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("delinkcious.migrations")


def upgrade_to_head(engine: Engine, script_location: Path, version_table: str) -> bool:
    """Applies every revision this code knows. Returns False, changing nothing, when the
    database is already at a revision this code does not know: a newer release
    migrated it and this older one is being rolled back to. Migrations are
    expand/contract (additive first), so the older code still runs on the newer schema."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["version_table"] = version_table
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": version_table})
        unknown = _unknown_revisions(conn, cfg, version_table)
        if unknown:
            log.warning(
                "schema is ahead of this version; not migrating",
                extra={"revisions": sorted(unknown), "version_table": version_table},
            )
            return False
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return True


def _unknown_revisions(conn: Connection, cfg: Config, version_table: str) -> set[str]:
    current = MigrationContext.configure(conn, opts={"version_table": version_table}).get_current_heads()
    scripts = ScriptDirectory.from_config(cfg)
    unknown = set()
    for revision in current:
        try:
            if scripts.get_revision(revision) is None:
                unknown.add(revision)
        except CommandError:
            unknown.add(revision)
    return unknown


def run_env() -> None:
    """The body of every service's `migrations/env.py` (online mode only: we always
    migrate through the connection `upgrade_to_head` opened)."""
    from alembic import context

    config = context.config
    context.configure(
        connection=config.attributes["connection"],
        version_table=config.attributes["version_table"],
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def migrate_database(url: str, script_location: Path, version_table: str) -> None:
    """`python -m <service> migrate`: migrate and let go of the database."""
    from delinkcious.db import create_db_engine

    engine = create_db_engine(url)
    try:
        upgrade_to_head(engine, script_location, version_table)
    finally:
        engine.dispose()


@asynccontextmanager
async def migrated_engine(url: str, script_location: Path, version_table: str) -> AsyncIterator[Engine]:
    """A service lifespan's database: the engine, migrated before the service serves,
    disposed when it stops."""
    from delinkcious.db import create_db_engine

    engine = create_db_engine(url)
    try:
        await asyncio.to_thread(upgrade_to_head, engine, script_location, version_table)
        yield engine
    finally:
        engine.dispose()


def database_check(engine: Callable[[], Engine]) -> Callable[[], Awaitable[None]]:
    """The readiness check of a service's database (the engine it holds at check time)."""
    from delinkcious.db import ping

    async def database() -> None:
        await asyncio.to_thread(ping, engine())

    return database
