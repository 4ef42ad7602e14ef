"""What the gateway replicas share, in Redis: used login states, the rate limiter's
per-user state and the revocation channel. Every key and channel starts with `gw:`,
the only ones the gateway's Redis user may touch.

Redis being away never turns into a 500: each use says what it does instead (a login
is refused with 503, the rate limit falls back to this replica's own, the token cache
stops caching). Every use counts in `delinkcious_gateway_shared_state_operations_total`
by outcome; the first failure of an outage is logged, and so is the recovery.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from delinkcious.metrics import GATEWAY_SHARED_STATE_OPERATIONS

KEY_PREFIX = "gw:"
REVOCATION_CHANNEL = f"{KEY_PREFIX}revocations"

# Commands are small and Redis is near: a slow answer is as good as none, and a request
# must not wait seconds for the limiter. After a failure Redis is left alone this long,
# so an outage costs one timeout per interval, not one per request.
COMMAND_TIMEOUT_SECONDS = 0.5
BACKOFF_SECONDS = 1.0

log = logging.getLogger("api_gateway.shared_state")


class SharedState:
    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
            socket_connect_timeout=COMMAND_TIMEOUT_SECONDS,
            # One immediate retry, for a pooled connection Redis closed (a restart); no
            # more: every use has its own answer to a failure, given at once.
            retry=Retry(NoBackoff(), 1),
        )
        self.url = url
        self._skip_until = 0.0
        self._down = False

    def available(self, use: str) -> bool:
        """False for a moment after a failure: callers take their fallback at once."""
        if time.monotonic() >= self._skip_until:
            return True
        GATEWAY_SHARED_STATE_OPERATIONS.labels(use, "skipped").inc()
        return False

    def failed(self, use: str, error: Exception) -> None:
        GATEWAY_SHARED_STATE_OPERATIONS.labels(use, "failed").inc()
        self._skip_until = time.monotonic() + BACKOFF_SECONDS
        if not self._down:
            self._down = True
            log.warning(
                "Redis is unreachable; the gateway's shared state is degraded until it is back",
                extra={"use": use, "reason": f"{type(error).__name__}: {error}"},
            )

    def succeeded(self, use: str) -> None:
        GATEWAY_SHARED_STATE_OPERATIONS.labels(use, "ok").inc()
        self._skip_until = 0.0
        if self._down:
            self._down = False
            log.info("Redis is reachable again; the gateway's shared state is back")

    async def aclose(self) -> None:
        await self.redis.aclose()
