"""Fixtures of the runner tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from delinkcious.localrun.secretfile import LocalSecrets
from tests.localrun.helpers import table_secrets


@pytest.fixture
def secrets(tmp_path: Path) -> LocalSecrets:
    """The secrets of the whole table, kept in the test's data folder."""
    return table_secrets(tmp_path)
