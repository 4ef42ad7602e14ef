"""A whole system of its own for the import tests: their thousands of events would
otherwise queue ahead of the events the other end-to-end tests wait for. Its link
limit is lower than the default so the big files stay quick."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningSystem, local_system
from tests.servers import NatsServer, RedisServer

LINK_LIMIT = 2000


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    yield from local_system(
        tmp_path_factory.mktemp("system") / "data", nats, redis, MAX_LINKS_PER_USER=str(LINK_LIMIT)
    )
