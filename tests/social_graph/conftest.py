from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import sqlite_database
from tests.social_graph.support import Apps, running_apps


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[Apps]:
    """Both services on SQLite files: for the many request-shape tests, where the
    database brand does not matter (the store tests cover both)."""
    with running_apps(sqlite_database(tmp_path), sqlite_database(tmp_path)) as running:
        yield running
