"""The whole system for the Pinboard and feed tests (LocalSystem, as `make run` starts
it), with per-user rate limits low enough that a test can reach them on purpose."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from delinkcious.localrun import LocalSystem
from tests.e2e.conftest import RunningSystem
from tests.servers import NatsServer, RedisServer, isolated_system_env

# A burst of 60 then 10 a second: a test's own calls stay under it, a tight loop does not.
RATE_LIMIT_BURST = 60
RATE_LIMIT_PER_SECOND = 10


def running_system(data_dir: Path) -> Iterator[RunningSystem]:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    env = isolated_system_env(
        nats,
        redis,
        LINK_CHECKER_ALLOW_PRIVATE_NETWORKS="true",
        DELINKCIOUS_READY_TIMEOUT="90",
        RATE_LIMIT_PER_SECOND=str(RATE_LIMIT_PER_SECOND),
        RATE_LIMIT_BURST=str(RATE_LIMIT_BURST),
    )
    log = io.StringIO()
    local = LocalSystem(data_dir, env=env, out=log)
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
