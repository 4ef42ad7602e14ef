"""Validating cached tokens again before their entries expire, off the request path.

Without it every token in steady use costs one request in each cache lifetime a call
to user-manager on its path, and the tokens cached together (every active user after
a restart or an idle spell) come due together: a burst of validations, each holding up
its request. A request that finds its entry in the last part of its lifetime
(TokenCache.claim_refresh) starts one validation here and is answered from the entry.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from api_gateway.auth import TokenCache
from delinkcious.clients.user import UserClient
from delinkcious.errors import Unauthenticated
from delinkcious.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class TokenRefresher:
    def __init__(self, cache: TokenCache, users: UserClient) -> None:
        self._cache = cache
        self._users = users
        self._running: set[asyncio.Task[None]] = set()

    def refresh(self, token: str) -> None:
        # A context of its own: the refresh is nobody's request (its span is a root,
        # its log lines carry no request id), and outlives the one that started it.
        task = asyncio.create_task(self._validate(token), context=contextvars.Context())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _validate(self, token: str) -> None:
        try:
            owner = await self._users.validate_token(token)
        except Unauthenticated:
            # Revoked, expired or deleted since: the next request validates it on its
            # path and is refused.
            self._cache.drop(token)
        except Exception as exc:  # user-manager unreachable: the entry expires as it would
            log.warning("token refresh failed", extra={"error": type(exc).__name__})
        else:
            self._cache.put(token, owner)

    async def join(self) -> None:
        """Returns once every refresh started so far has ended."""
        await asyncio.gather(*self._running, return_exceptions=True)

    async def aclose(self) -> None:
        await cancel_and_wait(*self._running)
