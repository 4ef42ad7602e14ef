"""The shared parts one by one, on a real Redis: the rate limiter keeps the in-memory
one's promise, used states are single use, revocations reach another cache, and Redis
being away takes each part's documented way out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from api_gateway.login.states import RedisUsedStates
from api_gateway.ratelimit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from api_gateway.revocation import SharedTokenCache
from api_gateway.shared_state import REVOCATION_CHANNEL, SharedState
from delinkcious.errors import RateLimited, Unavailable
from delinkcious.metrics import GATEWAY_SHARED_STATE_OPERATIONS
from delinkcious.models import TokenOwner
from delinkcious.timeutil import utcnow
from tests.servers import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def shared(redis_url: str) -> AsyncIterator[SharedState]:
    state = SharedState(redis_url)
    yield state
    await state.aclose()


@pytest.fixture
async def unreachable() -> AsyncIterator[SharedState]:
    state = SharedState(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    yield state
    await state.aclose()


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


async def accepted_at_once(limiter: RateLimiter, user: str, tries: int) -> int:
    accepted = 0
    for _ in range(tries):
        try:
            await limiter.check(user)
            accepted += 1
        except RateLimited as limited:
            assert limited.retry_after >= 1
    return accepted


async def test_the_shared_limiter_allows_what_the_in_memory_one_allows(shared: SharedState) -> None:
    # Intervals of 500 ms: a loaded machine may take a few hundred ms over the attempts
    # and the sleep without changing what refills (at 50 ms, one run in many got one more).
    rate, burst = 2.0, 7
    shared_limiter = RedisRateLimiter(shared, rate, burst)
    local = InMemoryRateLimiter(rate, burst)
    user = unique("gcra")
    assert await accepted_at_once(shared_limiter, user, 20) == burst
    assert await accepted_at_once(local, user, 20) == burst
    await asyncio.sleep(2.75)  # five intervals refill five requests; a sixth by 3.0 s
    assert await accepted_at_once(shared_limiter, user, 20) in (5, 6)
    assert await accepted_at_once(local, user, 20) in (5, 6)


async def test_retry_after_says_when_the_next_request_passes(shared: SharedState) -> None:
    limiter = RedisRateLimiter(shared, 0.5, 1)  # one request every 2 s
    user = unique("retry")
    await limiter.check(user)
    with pytest.raises(RateLimited) as limited:
        await limiter.check(user)
    assert limited.value.retry_after == 2


async def test_the_limiter_survives_a_flushed_script_cache(shared: SharedState) -> None:
    limiter = RedisRateLimiter(shared, 100.0, 3)
    await limiter.check(unique("noscript"))
    await shared.redis.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
    assert await accepted_at_once(limiter, unique("noscript"), 5) == 3


async def test_a_used_state_is_refused_the_second_time(shared: SharedState) -> None:
    states = RedisUsedStates(shared)
    state = unique("state")
    assert await states.first_use(state, 600) is True
    assert await states.first_use(state, 600) is False
    keys = [k async for k in shared.redis.scan_iter("gw:login-state:*")]
    assert keys and all(state not in k for k in keys)  # only its hash is stored
    assert 0 < await shared.redis.ttl(keys[0]) <= 600


def operations(use: str, outcome: str) -> float:
    return GATEWAY_SHARED_STATE_OPERATIONS.labels(use, outcome)._value.get()


async def test_without_redis_a_login_is_refused_and_the_limit_is_this_replicas(
    unreachable: SharedState,
) -> None:
    failed = operations("login_state", "failed")
    with pytest.raises(Unavailable):
        await RedisUsedStates(unreachable).first_use(unique("state"), 600)
    assert operations("login_state", "failed") == failed + 1
    with pytest.raises(Unavailable):  # within the back-off: not even tried
        await RedisUsedStates(unreachable).first_use(unique("state"), 600)

    limiter = RedisRateLimiter(unreachable, 1.0, 4)
    skipped = operations("rate_limit", "skipped")
    assert await accepted_at_once(limiter, unique("fallback"), 10) == 4  # limited, not open
    assert operations("rate_limit", "skipped") > skipped


def owner() -> TokenOwner:
    return TokenOwner(username="alice", expires_at=utcnow() + timedelta(hours=1))


async def live_cache(shared: SharedState) -> tuple[SharedTokenCache, asyncio.Task[None]]:
    cache = SharedTokenCache(5.0, shared)
    task = asyncio.create_task(cache.run())
    deadline = time.monotonic() + 5
    while not cache.live:
        assert time.monotonic() < deadline, "the cache did not join the revocation channel"
        await asyncio.sleep(0.01)
    return cache, task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_eviction_reaches_the_other_cache(redis_url: str) -> None:
    one, two = SharedState(redis_url), SharedState(redis_url)
    (a, a_task), (b, b_task) = await live_cache(one), await live_cache(two)
    try:
        token = unique("dlk_token")
        a.put(token, owner())
        b.put(token, owner())
        assert b.get(token) is not None
        a.evict(token)
        assert a.get(token) is None
        deadline = time.monotonic() + 1
        while b.get(token) is not None:
            assert time.monotonic() < deadline, "the eviction did not reach the other cache"
            await asyncio.sleep(0.005)
        b.put(token, owner())  # a validation that was under way when the token was revoked
        assert b.get(token) is None
    finally:
        await stop(a_task)
        await stop(b_task)
        await one.aclose()
        await two.aclose()


async def test_a_cache_off_the_channel_caches_nothing(shared: SharedState) -> None:
    cache = SharedTokenCache(5.0, shared)  # never subscribed
    cache.put("dlk_x", owner())
    assert cache.get("dlk_x") is None


async def test_a_malformed_message_is_ignored(shared: SharedState) -> None:
    cache, task = await live_cache(shared)
    try:
        cache.put("dlk_kept", owner())
        await shared.redis.publish(REVOCATION_CHANNEL, "not json")
        await shared.redis.publish(REVOCATION_CHANNEL, json.dumps(["a list"]))
        await asyncio.sleep(0.05)
        assert cache.live and cache.get("dlk_kept") is not None
    finally:
        await stop(task)


async def test_a_deleted_personal_token_leaves_the_other_cache(redis_url: str) -> None:
    one, two = SharedState(redis_url), SharedState(redis_url)
    (a, a_task), (b, b_task) = await live_cache(one), await live_cache(two)
    try:
        token, token_id = unique("dlkp_token"), unique("id")
        personal = TokenOwner(username="alice", scope="full", token_id=token_id)
        b.put(token, personal)
        assert b.get(token) is not None
        a.evict_id(token_id)  # a replica that never saw the token itself
        deadline = time.monotonic() + 1
        while b.get(token) is not None:
            assert time.monotonic() < deadline, "the deletion did not reach the other cache"
            await asyncio.sleep(0.005)
        b.put(token, personal)
        assert b.get(token) is None
    finally:
        await stop(a_task)
        await stop(b_task)
        await one.aclose()
        await two.aclose()
