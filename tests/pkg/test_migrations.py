"""Migrations at start: applied once, and a rollback to older code does not stall on a
schema a newer release already migrated."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from delinkcious.db import create_db_engine
from delinkcious.migrations import upgrade_to_head
from link_service.transport import MIGRATIONS

TABLE = "alembic_version_link_manager"


def revision(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.text(f"SELECT version_num FROM {TABLE}")).scalar_one())


def test_older_code_leaves_a_newer_schema_alone(database_url: str, tmp_path: Path) -> None:
    engine = create_db_engine(database_url)
    try:
        assert upgrade_to_head(engine, MIGRATIONS, TABLE) is True
        newest = revision(engine)
        assert upgrade_to_head(engine, MIGRATIONS, TABLE) is True  # idempotent
        # The previous release: the same migrations without the newest revision.
        older = tmp_path / "migrations"
        shutil.copytree(MIGRATIONS, older)
        for script in (older / "versions").glob("*.py"):
            if f'revision = "{newest}"' in script.read_text():
                script.unlink()
        assert upgrade_to_head(engine, older, TABLE) is False
        assert revision(engine) == newest
    finally:
        engine.dispose()
