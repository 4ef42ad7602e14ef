"""Schema migrations with Alembic, applied by each service at start.

Every service keeps its revisions in its own `migrations/` folder and its own
version table, so services never step on each other even when they share a
database server. On Postgres an advisory lock makes concurrent starts (several
replicas, or a migration Job racing a pod) apply each revision exactly once.
"""

from __future__ import annotations

import logging
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
