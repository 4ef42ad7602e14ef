"""The image tests: they need root, podman and the images `make test-images` builds, so
they run only there (marker `images`, deselected by default in pyproject.toml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images.report import Report
from tests.images.system import image_tag

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.images)


@pytest.fixture(scope="session")
def tag() -> str:
    return image_tag()


@pytest.fixture(scope="session")
def report() -> Iterator[Report]:
    found = Report()
    yield found
    found.write()
