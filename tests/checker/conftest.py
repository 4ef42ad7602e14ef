"""link-checker fixtures: a page server on 127.0.0.1 and the check under test."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from link_checker.addresses import AddressPolicy, IPAddress, parse_ip
from link_checker.checker import CheckOutcome, Resolver, check_url
from link_checker.limits import CheckLimits
from tests.checker.pages import PageServer, serve

ALLOW = AddressPolicy(allow_private=True)
DENY = AddressPolicy()


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with serve() as server:
        yield server


def fixed_resolver(table: dict[str, Sequence[str]], calls: list[str] | None = None) -> Resolver:
    """Answers from `table` and records each lookup; unknown names fail like DNS does."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return [parse_ip(a) for a in table[host]]

    return resolve


async def no_dns(host: str, port: int) -> list[IPAddress]:
    raise AssertionError(f"no DNS lookup expected, got one for {host}")


async def check(
    url: str,
    policy: AddressPolicy = ALLOW,
    resolver: Resolver = no_dns,
    limits: CheckLimits | None = None,
) -> CheckOutcome:
    return await check_url(
        url, policy=policy, resolver=resolver, limits=limits or CheckLimits(total_timeout=5)
    )
