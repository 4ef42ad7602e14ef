"""A whole system of its own for the import tests: their thousands of events would
otherwise queue ahead of the events the other end-to-end tests wait for. Its link
limit is lower than the default so the big files stay quick."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from delinkcious.localrun import LocalSystem
from tests.e2e.conftest import RunningSystem
from tests.servers import NatsServer, RedisServer, isolated_system_env

LINK_LIMIT = 2000


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    env = isolated_system_env(nats, redis, MAX_LINKS_PER_USER=str(LINK_LIMIT), DELINKCIOUS_READY_TIMEOUT="90")
    log = io.StringIO()
    local = LocalSystem(tmp_path_factory.mktemp("system") / "data", env=env, out=log)
    try:
        urls = local.start()
    except BaseException:
        print(log.getvalue())
        nats.close()
        redis.close()
        raise
    try:
        yield RunningSystem(local, nats, redis, urls["api-gateway"], log)
    finally:
        local.stop()
        nats.close()
        redis.close()
