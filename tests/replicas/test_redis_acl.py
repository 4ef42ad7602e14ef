"""Everything the gateway does in Redis works as the Redis user the chart gives it (its
`redisAcl` rules, set on a real Redis), and the same user reaches nothing else."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.exceptions import NoPermissionError

from api_gateway.list_cache import ListCache, version_key
from api_gateway.login.states import RedisUsedStates
from api_gateway.ratelimit import RedisRateLimiter
from api_gateway.revocation import SharedTokenCache
from api_gateway.shared_state import REVOCATION_CHANNEL, SharedState
from delinkcious.errors import RateLimited
from delinkcious.metrics import GATEWAY_SHARED_STATE_OPERATIONS
from delinkcious.news.versions import NEWS_VERSION_KEY_PREFIX, news_version_key
from delinkcious.tasks import cancel_and_wait
from tests.deploy.chart import chart_values
from tests.servers import RedisServer

PASSWORD = "acl-test-password-0123"


@pytest.fixture(scope="module")
def gateway_user_url() -> Iterator[str]:
    server = RedisServer()
    server.start()
    rules = chart_values()["services"]["api-gateway"]["redisAcl"].split()
    admin = redis.Redis.from_url(server.url)
    admin.acl_setuser(
        "api-gateway", enabled=True, reset_keys=True, reset_channels=True, passwords=[f"+{PASSWORD}"]
    )
    admin.execute_command("ACL", "SETUSER", "api-gateway", *rules)
    # The gateway's user as an operator may have created it before the news cache: its
    # own keys only, not news-manager's feed versions.
    older = [rule for rule in rules if rule != f"~{NEWS_VERSION_KEY_PREFIX}*"]
    assert older != rules
    admin.acl_setuser(
        "older-gateway", enabled=True, reset_keys=True, reset_channels=True, passwords=[f"+{PASSWORD}"]
    )
    admin.execute_command("ACL", "SETUSER", "older-gateway", *older)
    admin.close()
    try:
        yield f"redis://api-gateway:{PASSWORD}@127.0.0.1:{server.port}/0"
    finally:
        server.close()


def outcome(use: str, result: str) -> float:
    return GATEWAY_SHARED_STATE_OPERATIONS.labels(use, result)._value.get()


def test_the_gateways_redis_work_is_allowed_by_its_acl(gateway_user_url: str) -> None:
    async def scenario() -> None:
        shared = SharedState(gateway_user_url)
        try:
            failed = {use: outcome(use, "failed") for use in ("rate_limit", "list_cache", "login_state")}
            limiter = RedisRateLimiter(shared, per_second=100, burst=100)
            assert await limiter.check("ann", read=version_key("ann")) == "0"
            await ListCache(2.0, 1 << 20, shared).changed("ann")
            assert await limiter.check("ann", read=version_key("ann")) == "1"
            # The news cache reads the version of a feed, which news-manager moves.
            assert await limiter.check("ann", read=news_version_key("ann")) == "0"
            assert await RedisUsedStates(shared).first_use("some-state", 60) is True
            assert await RedisUsedStates(shared).first_use("some-state", 60) is False
            tokens = SharedTokenCache(5, shared)
            listener = asyncio.create_task(tokens.run())
            try:
                await shared.redis.publish(REVOCATION_CHANNEL, '{"token_id": "x"}')
            finally:
                await cancel_and_wait(listener)
                await tokens.aclose()
            assert {use: outcome(use, "failed") for use in failed} == failed
            assert shared.available("rate_limit")
            # Nothing outside the gateway's prefix but those versions.
            with pytest.raises(NoPermissionError):
                await shared.redis.get("news:feed:ann")
            with pytest.raises(NoPermissionError):
                await shared.redis.get("news:versions")
        finally:
            await shared.aclose()

    asyncio.run(scenario())


def test_a_user_without_the_feed_versions_still_limits_and_only_skips_the_news_cache(
    gateway_user_url: str,
) -> None:
    """An ACL from before the news cache: the version cannot be read, so no news page is
    kept, but the rate limit still holds in Redis and nothing counts as an outage."""
    older_url = gateway_user_url.replace("api-gateway:", "older-gateway:", 1)

    async def scenario() -> None:
        shared = SharedState(older_url)
        try:
            failed = outcome("rate_limit", "failed")
            limiter = RedisRateLimiter(shared, per_second=0.5, burst=2)
            user = f"older-{id(shared)}"
            assert await limiter.check(user, read=news_version_key(user)) is None
            assert await limiter.check(user, read=news_version_key(user)) is None
            with pytest.raises(RateLimited):  # the third within 2 s: the shared bucket is empty
                await limiter.check(user, read=news_version_key(user))
            assert outcome("rate_limit", "failed") == failed
            assert shared.available("rate_limit")
            assert await limiter.check("someone-else", read=version_key("someone-else")) == "0"
        finally:
            await shared.aclose()

    asyncio.run(scenario())


def test_the_operating_guide_creates_the_user_with_the_charts_rules() -> None:
    """docs/operating.md's command for an external Redis: a user created without the
    feed versions would quietly keep no news page."""
    guide = (Path(__file__).parents[2] / "docs" / "operating.md").read_text()
    command = re.search(r"`ACL SETUSER api-gateway on >PASSWORD resetkeys resetchannels ([^`]+)`", guide)
    assert command is not None
    rules = chart_values()["services"]["api-gateway"]["redisAcl"].split()
    assert command.group(1).split() == rules
