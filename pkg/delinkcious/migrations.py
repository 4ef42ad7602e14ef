"""Schema migrations with Alembic, applied by each service at start.

Every service keeps its revisions in its own `migrations/` folder and its own
version table, so services never step on each other even when they share a
database server. On Postgres an advisory lock makes concurrent starts (several
replicas, or a migration Job racing a pod) apply each revision exactly once.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine


def upgrade_to_head(engine: Engine, script_location: Path, version_table: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["version_table"] = version_table
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": version_table})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


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
