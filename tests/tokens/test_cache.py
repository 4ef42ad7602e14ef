"""The gateway's TokenCache: entries by token, evicted by token or by personal token id,
with a clock the test moves."""

from __future__ import annotations

from datetime import timedelta

from api_gateway.auth import TokenCache
from delinkcious.models import TokenOwner
from delinkcious.timeutil import utcnow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def personal(token_id: str, scope: str = "full") -> TokenOwner:
    return TokenOwner(username="alice", scope=scope, token_id=token_id)


def login(seconds_left: float = 3600) -> TokenOwner:
    return TokenOwner(username="alice", scope="login", expires_at=utcnow() + timedelta(seconds=seconds_left))


def test_never_expiring_tokens_expire_by_the_cache_ttl_only() -> None:
    clock = Clock()
    cache = TokenCache(5, clock=clock, spread=lambda: 0.0)
    cache.put("dlkp_a", personal("a"))
    clock.now += 4.9
    assert cache.get("dlkp_a") == personal("a")
    clock.now += 0.1
    assert cache.get("dlkp_a") is None


def test_login_tokens_are_not_cached_past_their_expiry() -> None:
    clock = Clock()
    cache = TokenCache(5, clock=clock, spread=lambda: 0.0)
    cache.put("dlk_a", login(seconds_left=2))
    clock.now += 1.5
    assert cache.get("dlk_a") is not None
    clock.now += 1
    assert cache.get("dlk_a") is None


def test_entries_cached_together_expire_spread_over_the_last_fifth_of_the_ttl() -> None:
    clock = Clock()
    cache = TokenCache(5, clock=clock)  # the real random spread
    tokens = [f"dlkp_{i}" for i in range(200)]
    for token in tokens:
        cache.put(token, personal(token))
    clock.now += 3.99
    assert all(cache.get(t) is not None for t in tokens)  # none before 80% of the TTL
    clock.now += 0.51
    halfway = sum(cache.get(t) is not None for t in tokens)
    assert 40 < halfway < 160  # about half gone by 90%: spread, not all at once
    clock.now += 0.5
    assert all(cache.get(t) is None for t in tokens)  # none outlives the TTL


def test_the_longest_spread_lifetime_is_the_ttl_itself() -> None:
    clock = Clock()
    cache = TokenCache(5, clock=clock, spread=lambda: 0.0)
    short = TokenCache(5, clock=clock, spread=lambda: 1.0)
    cache.put("dlkp_a", personal("a"))
    short.put("dlkp_a", personal("a"))
    clock.now += 3.99
    assert short.get("dlkp_a") is not None
    clock.now += 0.02
    assert short.get("dlkp_a") is None  # 80% of the TTL
    assert cache.get("dlkp_a") is not None


def test_evict_id_forgets_the_token_of_that_id_only() -> None:
    cache = TokenCache(5, clock=Clock())
    cache.put("dlkp_a", personal("a"))
    cache.put("dlkp_b", personal("b"))
    cache.put("dlk_login", login())

    cache.evict_id("a")

    assert cache.get("dlkp_a") is None
    assert cache.get("dlkp_b") == personal("b")
    assert cache.get("dlk_login") is not None
    cache.evict_id("never-cached")  # harmless


def test_an_answer_fetched_before_an_eviction_does_not_bring_the_token_back() -> None:
    """A validation in flight while the token is deleted or logged out puts a stale
    owner afterwards: the cache must not take it."""
    clock = Clock()
    cache = TokenCache(5, clock=clock)
    cache.evict_id("a")
    cache.evict("dlk_gone")
    cache.put("dlkp_a", personal("a"))
    cache.put("dlk_gone", login())
    assert cache.get("dlkp_a") is None
    assert cache.get("dlk_gone") is None

    clock.now += 120  # long after any validation could still be in flight
    cache.put("dlk_gone", login())
    assert cache.get("dlk_gone") is not None


def test_evicting_a_token_also_drops_it_from_its_id() -> None:
    cache = TokenCache(5, clock=Clock())
    cache.put("dlkp_a", personal("a"))
    cache.evict("dlkp_a")
    assert cache.get("dlkp_a") is None
    cache.evict_id("a")
    assert cache.get("dlkp_a") is None


def test_a_full_cache_starts_over_and_keeps_its_index_true() -> None:
    cache = TokenCache(5, max_entries=2, clock=Clock())
    cache.put("dlkp_a", personal("a"))
    cache.put("dlkp_b", personal("b"))
    cache.put("dlkp_c", personal("c"))  # clears, then holds c alone
    assert [cache.get(t) is not None for t in ("dlkp_a", "dlkp_b", "dlkp_c")] == [False, False, True]
    cache.evict_id("c")
    assert cache.get("dlkp_c") is None


def test_a_zero_ttl_caches_nothing() -> None:
    cache = TokenCache(0, clock=Clock())
    cache.put("dlkp_a", personal("a"))
    assert cache.get("dlkp_a") is None
