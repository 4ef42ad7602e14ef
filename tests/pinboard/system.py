"""The whole system for the Pinboard and feed tests (LocalSystem, as `make run` starts
it), with per-user rate limits low enough that a test can reach them on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tests.e2e.conftest import RunningSystem, local_system
from tests.servers import NatsServer, RedisServer

# A burst of 60 then 10 a second: a test's own calls stay under it, a tight loop does not.
RATE_LIMIT_BURST = 60
RATE_LIMIT_PER_SECOND = 10


def running_system(data_dir: Path) -> Iterator[RunningSystem]:
    nats, redis = NatsServer(), RedisServer()
    nats.start()
    redis.start()
    yield from local_system(
        data_dir,
        nats,
        redis,
        LINK_CHECKER_ALLOW_PRIVATE_NETWORKS="true",
        RATE_LIMIT_PER_SECOND=str(RATE_LIMIT_PER_SECOND),
        RATE_LIMIT_BURST=str(RATE_LIMIT_BURST),
    )
