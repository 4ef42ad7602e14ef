from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningSystem
from tests.pinboard.system import running_system


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    yield from running_system(tmp_path_factory.mktemp("pinboard") / "data")
