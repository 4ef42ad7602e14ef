"""A revoked token refused on every gateway replica at once, not when each replica's
token cache entry expires.

The replica that revokes a token (a logout) publishes it on the Redis channel
`gw:revocations`, as `{"token_hash": "<sha256 hex>"}` (never the token itself), and every
replica's cache forgets it when the message arrives. A message may name a personal
token by its id instead (`{"token_id": "..."}`), for revocations that know no token.

A replica caches tokens only while it is subscribed: a replica that could be missing
messages (Redis away, the channel not yet joined) asks user-manager on every request,
and forgets everything it cached when it (re)joins. A revocation that arrives while
the same token is being validated leaves a tombstone, so the answer of that
validation is not cached afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from typing import Any

from redis.exceptions import RedisError

from api_gateway.auth import TokenCache
from api_gateway.shared_state import REVOCATION_CHANNEL, SharedState
from delinkcious.metrics import GATEWAY_REVOCATION_CHANNEL_UP
from delinkcious.models import TokenOwner

# Longer than a validation can take (BACKEND_TIMEOUT_SECONDS is at most 60).
TOMBSTONE_SECONDS = 90.0
MAX_TOMBSTONES = 100_000
RESUBSCRIBE_SECONDS = (0.1, 2.0)  # first and longest wait before joining the channel again

log = logging.getLogger("api_gateway.revocation")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SharedTokenCache(TokenCache):
    """A TokenCache whose evictions reach every replica. Entries are kept under the
    token's hash (prefixed by a generation, bumped whenever the channel is joined or
    lost), so a message naming the hash evicts the entry."""

    def __init__(self, ttl_seconds: float, shared: SharedState) -> None:
        super().__init__(ttl_seconds)
        self._shared = shared
        self._live = False
        self._generation = 0
        self._tombstones: dict[str, float] = {}  # "hash:<sha256>" or "id:<token id>" -> until
        self._publishing: set[asyncio.Task[None]] = set()

    @property
    def live(self) -> bool:
        return self._live

    def get(self, token: str) -> TokenOwner | None:
        if not self._live:
            return None
        return super().get(self._key(token_hash(token)))

    def put(self, token: str, owner: TokenOwner) -> None:
        digest = token_hash(token)
        token_id = owner.token_id
        if not self._live or self._buried(f"hash:{digest}") or (token_id and self._buried(f"id:{token_id}")):
            return
        super().put(self._key(digest), owner)

    def claim_refresh(self, token: str) -> bool:
        return self._live and super().claim_refresh(self._key(token_hash(token)))

    def drop(self, token: str) -> None:
        super().drop(self._key(token_hash(token)))

    def evict(self, token: str) -> None:
        digest = token_hash(token)
        self._forget({"token_hash": digest})
        self._publish({"token_hash": digest})

    def evict_id(self, token_id: str) -> None:
        self._forget({"token_id": token_id})
        self._publish({"token_id": token_id})

    def _forget(self, message: dict[str, Any]) -> None:
        digest, token_id = message.get("token_hash"), message.get("token_id")
        if isinstance(digest, str):
            self._bury(f"hash:{digest}")
            super().evict(self._key(digest))
        if isinstance(token_id, str):
            self._bury(f"id:{token_id}")
            super().evict_id(token_id)

    def _bury(self, key: str) -> None:
        now = time.monotonic()
        if len(self._tombstones) >= MAX_TOMBSTONES:
            self._tombstones = {k: t for k, t in self._tombstones.items() if t > now}
        self._tombstones[key] = now + TOMBSTONE_SECONDS

    def _buried(self, key: str) -> bool:
        until = self._tombstones.get(key)
        return until is not None and until > time.monotonic()

    def _key(self, digest: str) -> str:
        return f"{self._generation}:{digest}"

    def _set_live(self, live: bool) -> None:
        if live != self._live:
            # Whatever was cached may have missed a revocation (or is about to): a new
            # generation of keys leaves the old entries unread until they expire.
            self._generation += 1
        self._live = live
        GATEWAY_REVOCATION_CHANNEL_UP.set(1 if live else 0)

    # ------------------------------------------------------------------ the channel

    def _publish(self, message: dict[str, str]) -> None:
        # A task, as evict() is not async; the app awaits published() before a response
        # starts (replicas.install), so the others know before the client does.
        task = asyncio.get_running_loop().create_task(self._send(json.dumps(message)))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _send(self, payload: str) -> None:
        try:
            await self._shared.redis.publish(REVOCATION_CHANNEL, payload)
        except (RedisError, OSError) as error:
            # Replicas that cannot hear it cannot be caching either (they are not live).
            self._shared.failed("revocation", error)
        else:
            self._shared.succeeded("revocation")

    async def run(self) -> None:
        """Stays subscribed to the channel for the app's lifetime, joining it again
        whenever the connection is lost."""
        wait = RESUBSCRIBE_SECONDS[0]
        while True:
            pubsub = self._shared.redis.pubsub()
            try:
                await pubsub.subscribe(REVOCATION_CHANNEL)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        await pubsub.ping()  # a dead connection shows itself on the next read
                    elif message["type"] == "subscribe":
                        self._set_live(True)
                        wait = RESUBSCRIBE_SECONDS[0]
                    elif message["type"] == "message":
                        self._received(message["data"])
            except (RedisError, OSError) as error:
                if self._live:
                    self._shared.failed("revocation", error)
            except Exception:
                # Not Redis being away: still no reason to stop listening for good.
                log.exception("the revocation listener failed; joining the channel again")
            finally:
                self._set_live(False)
                await _close(pubsub)
            await asyncio.sleep(wait)
            wait = min(wait * 2, RESUBSCRIBE_SECONDS[1])

    def _received(self, data: object) -> None:
        try:
            message = json.loads(data) if isinstance(data, str) else None
        except ValueError:
            message = None
        if isinstance(message, dict):
            self._forget(message)
        else:
            log.warning("ignored a malformed revocation message")

    async def published(self) -> None:
        """Returns once every revocation published so far has reached Redis (or failed)."""
        if self._publishing:
            await asyncio.wait(list(self._publishing))

    async def aclose(self) -> None:
        self._set_live(False)
        if self._publishing:
            await asyncio.wait(self._publishing, timeout=1.0)


async def _close(pubsub: Any) -> None:
    with contextlib.suppress(RedisError, OSError):
        await pubsub.aclose()
