"""Migrations at start: applied once, and a rollback to older code does not stall on a
schema a newer release already migrated."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from delinkcious import migrations
from delinkcious.db import create_db_engine
from delinkcious.migrations import MigrationFailed, migrate_in_child, upgrade_to_head
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


async def test_a_service_migrates_in_a_child_and_logs_its_lines(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert await migrate_in_child(sqlite_url, MIGRATIONS, TABLE) is True
    upgrades = [r for r in caplog.records if r.getMessage().startswith("Running upgrade")]
    assert upgrades and all(r.name == "alembic.runtime.migration" for r in upgrades)
    assert all(r.process != os.getpid() for r in upgrades)  # logged here, done there
    engine = create_db_engine(sqlite_url)
    try:
        assert revision(engine) == sorted(_revisions())[-1]
    finally:
        engine.dispose()
    caplog.clear()
    assert await migrate_in_child(sqlite_url, MIGRATIONS, TABLE) is True  # nothing to do
    assert not [r for r in caplog.records if r.getMessage().startswith("Running upgrade")]


async def test_a_newer_schema_is_left_alone_by_the_child_too(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert await migrate_in_child(sqlite_url, MIGRATIONS, TABLE) is True
    older = tmp_path / "older"
    shutil.copytree(MIGRATIONS, older)
    newest = sorted(_revisions())[-1]
    for script in (older / "versions").glob("*.py"):
        if f'revision = "{newest}"' in script.read_text():
            script.unlink()
    assert await migrate_in_child(sqlite_url, older, TABLE) is False
    ahead = [r for r in caplog.records if r.getMessage() == "schema is ahead of this version; not migrating"]
    assert ahead and ahead[0].levelno == logging.WARNING
    assert ahead[0].__dict__["revisions"] == [newest]  # the record's extras arrive too


async def test_a_failed_migration_fails_the_start_and_logs_why(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(MigrationFailed, match="OperationalError"):
        await migrate_in_child("postgresql://someone@127.0.0.1:1/nothing", MIGRATIONS, TABLE)
    failed = [r for r in caplog.records if r.getMessage() == "schema migration failed"]
    assert failed and failed[0].levelno == logging.ERROR
    assert "Traceback" in (failed[0].exc_text or "")


def _revisions() -> list[str]:
    found = []
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for line in script.read_text().splitlines():
            if line.startswith("revision = "):
                found.append(line.split('"')[1])
    return found


async def test_a_serving_process_migrates_its_engine_in_a_child(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(migrations, "_in_child_process", False)
    migrations.migrate_in_child_processes()  # what delinkcious.server.serve does
    async with migrations.migrated_engine(sqlite_url, MIGRATIONS, TABLE) as engine:
        assert revision(engine) == sorted(_revisions())[-1]
    upgrades = [r for r in caplog.records if r.getMessage().startswith("Running upgrade")]
    assert upgrades and all(r.process != os.getpid() for r in upgrades)
