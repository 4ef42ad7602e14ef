"""The image tests: they need root, podman and the images `make test-images` builds, so
they run only when asked for (marker `images`; a plain `pytest` deselects them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images.report import Report
from tests.images.system import image_tag

HERE = Path(__file__).parent


def _asked_for(config: pytest.Config) -> bool:
    """Whether the command line names tests/images (or something in it) or `-m images`."""
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    named = any(p == HERE or HERE in p.parents for p in paths)
    return named or "images" in (config.option.markexpr or "").replace("not images", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A plain `pytest` (make test) leaves them out, as deselected; `make test-images` and
    # `pytest tests/images` run them.
    mine = [item for item in items if HERE in Path(str(item.fspath)).parents]
    for item in mine:
        item.add_marker(pytest.mark.images)
    if mine and not _asked_for(config):
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]


@pytest.fixture(scope="session")
def tag() -> str:
    return image_tag()


@pytest.fixture(scope="session")
def report() -> Iterator[Report]:
    found = Report()
    yield found
    found.write()
