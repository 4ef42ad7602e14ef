"""SharedLookups: checks of one name share a lookup in flight and its answer (or its
failure) for a few seconds; the policy still judges every address each check gets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from delinkcious.models import LinkStatus
from link_checker.addresses import AddressPolicy, IPAddress, parse_ip
from link_checker.checker import check_url
from link_checker.limits import CheckLimits
from link_checker.lookups import SharedLookups


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SlowResolver:
    """Counts lookups; each waits for `release` and then answers `addresses` or raises."""

    def __init__(self, addresses: list[str] | None = None, error: OSError | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.release = asyncio.Event()
        self.addresses = [parse_ip(a) for a in addresses or ["93.184.215.14"]]
        self.error = error

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append((host, port))
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return list(self.addresses)


async def test_checks_asking_at_once_share_one_lookup() -> None:
    resolver = SlowResolver()
    lookups = SharedLookups(resolver)
    waiting = [asyncio.create_task(lookups("example.com", 443)) for _ in range(20)]
    await asyncio.sleep(0.01)
    resolver.release.set()
    answers = await asyncio.gather(*waiting)
    assert resolver.calls == [("example.com", 443)]
    assert all(a == [parse_ip("93.184.215.14")] for a in answers)


async def test_an_answer_is_kept_for_its_seconds_then_looked_up_again() -> None:
    clock = Clock()
    resolver = SlowResolver()
    resolver.release.set()
    lookups = SharedLookups(resolver, answer_seconds=30, clock=clock)
    await lookups("Example.COM", 443)
    clock.now += 29.9
    await lookups("example.com", 443)  # names are case-insensitive
    assert len(resolver.calls) == 1
    clock.now += 0.1
    await lookups("example.com", 443)
    assert len(resolver.calls) == 2


async def test_names_and_ports_are_looked_up_apart() -> None:
    resolver = SlowResolver()
    resolver.release.set()
    lookups = SharedLookups(resolver)
    await lookups("a.example", 443)
    await lookups("b.example", 443)
    await lookups("a.example", 80)
    assert resolver.calls == [("a.example", 443), ("b.example", 443), ("a.example", 80)]


async def test_a_failure_is_shared_and_kept_only_briefly() -> None:
    clock = Clock()
    resolver = SlowResolver(error=socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    lookups = SharedLookups(resolver, answer_seconds=30, failure_seconds=5, clock=clock)
    waiting = [asyncio.create_task(lookups("gone.example", 443)) for _ in range(3)]
    await asyncio.sleep(0.01)
    resolver.release.set()
    errors = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(e, socket.gaierror) and "Name or service not known" in str(e) for e in errors)
    assert len({id(e) for e in errors}) == 3  # each caller its own exception
    with pytest.raises(socket.gaierror):
        await lookups("gone.example", 443)
    assert len(resolver.calls) == 1
    clock.now += 5
    with pytest.raises(socket.gaierror):
        await lookups("gone.example", 443)
    assert len(resolver.calls) == 2


async def test_a_caller_that_gives_up_leaves_the_lookup_to_the_others() -> None:
    resolver = SlowResolver()
    lookups = SharedLookups(resolver)
    impatient = asyncio.create_task(lookups("example.com", 443))
    patient = asyncio.create_task(lookups("example.com", 443))
    await asyncio.sleep(0.01)
    impatient.cancel()
    await asyncio.sleep(0.01)
    resolver.release.set()
    assert await patient == [parse_ip("93.184.215.14")]
    assert impatient.cancelled()
    assert len(resolver.calls) == 1


async def test_a_full_table_forgets_stale_names_first() -> None:
    clock = Clock()
    resolver = SlowResolver()
    resolver.release.set()
    lookups = SharedLookups(resolver, answer_seconds=10, max_names=2, clock=clock)
    await lookups("old.example", 443)
    clock.now += 11
    await lookups("fresh.example", 443)
    await lookups("new.example", 443)  # the table is full: old.example (stale) goes
    await lookups("fresh.example", 443)
    assert resolver.calls.count(("fresh.example", 443)) == 1


async def test_a_shared_answer_is_still_judged_by_the_policy() -> None:
    # The name resolves to loopback: the shared answer must not skip the address check.
    resolver = SlowResolver(addresses=["127.0.0.1"])
    resolver.release.set()
    lookups = SharedLookups(resolver)
    limits = CheckLimits()
    for _ in range(2):
        outcome = await check_url(
            "http://internal.example/", policy=AddressPolicy(), limits=limits, resolver=lookups
        )
        assert outcome.status is LinkStatus.INVALID
        assert outcome.blocked
    assert len(resolver.calls) == 1
