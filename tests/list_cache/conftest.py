from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import RedisServer


@pytest.fixture(scope="package")
def redis() -> Iterator[RedisServer]:
    """A throwaway Redis of the package's own: a test here may stop and start it."""
    server = RedisServer()
    server.start()
    yield server
    server.close()
