"""The checker refuses internal addresses, in every spelling, on every hop, and
without ever connecting to them: a listening socket counts the connections made."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address

import pytest

from delinkcious.models import LinkStatus
from link_checker.addresses import AddressPolicy, IPAddress, MalformedHost, parse_ip, parse_ipv4_number
from link_checker.checker import system_resolver
from link_checker.limits import CheckLimits
from tests.checker.conftest import ALLOW, DENY, check, fixed_resolver
from tests.checker.pages import CountingListener, counting_listener, page, redirect, serve

# Short, so a check that (wrongly) connects to a silent listener ends quickly.
QUICK = CheckLimits(total_timeout=1.0)


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    with counting_listener() as lst:
        yield lst


@pytest.fixture
def listener6() -> Iterator[CountingListener]:
    with counting_listener(socket.AF_INET6, "::1") as lst:
        yield lst


def loopback_spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::ffff:7f00:1]:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f.1:{port}/",
        f"http://0x7F000001:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://127.0.0.1.:{port}/",
        f"https://127.0.0.1:{port}/",
    ]


async def test_loopback_in_every_spelling_is_blocked_without_connecting(listener: CountingListener) -> None:
    for url in loopback_spellings(listener.port):
        outcome = await check(url, policy=DENY, limits=QUICK)
        assert outcome.status is LinkStatus.INVALID, url
        assert "blocked address" in outcome.reason and "loopback" in outcome.reason, (url, outcome.reason)
        assert outcome.blocked
    assert listener.connections() == 0


async def test_the_same_spellings_do_reach_the_listener_when_allowed(listener: CountingListener) -> None:
    """Shows the counting works: with the filter off each spelling connects."""
    urls = [u for u in loopback_spellings(listener.port) if not u.startswith("https")]
    for url in urls:
        await check(url, policy=ALLOW, limits=CheckLimits(total_timeout=0.3))
    assert listener.connections() == len(urls)


async def test_ipv6_loopback_is_blocked_without_connecting(listener6: CountingListener) -> None:
    outcome = await check(f"http://[::1]:{listener6.port}/", policy=DENY, limits=QUICK)
    assert outcome.status is LinkStatus.INVALID and "blocked address ::1 (loopback)" in outcome.reason
    assert listener6.connections() == 0
    await check(f"http://[::1]:{listener6.port}/", policy=ALLOW, limits=CheckLimits(total_timeout=0.3))
    assert listener6.connections() == 1


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("[fe80::1]", "link-local"),
        ("[fd00::1]", "unique-local"),
        ("[::ffff:10.0.0.1]", "private"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("[64:ff9b::a9fe:a9fe]", "link-local"),
        ("[2002:a00:1::1]", "private"),
        ("0xa9fea9fe", "link-local"),  # 169.254.169.254 as one hex number
        ("167772161", "private"),  # 10.0.0.1 as one decimal number
    ],
)
async def test_internal_literals_are_blocked(host: str, kind: str) -> None:
    outcome = await check(f"http://{host}/latest/meta-data/", policy=DENY, limits=QUICK)
    assert outcome.status is LinkStatus.INVALID
    assert "blocked address" in outcome.reason and kind in outcome.reason, outcome.reason


async def test_a_name_resolving_to_loopback_is_blocked(listener: CountingListener) -> None:
    resolver = fixed_resolver({"innocent.test": ["127.0.0.1"]})
    outcome = await check(
        f"http://innocent.test:{listener.port}/", policy=DENY, resolver=resolver, limits=QUICK
    )
    assert outcome.status is LinkStatus.INVALID
    assert "innocent.test resolves to blocked address 127.0.0.1 (loopback)" in outcome.reason
    assert listener.connections() == 0


async def test_a_name_with_one_public_and_one_private_address_is_blocked(listener: CountingListener) -> None:
    resolver = fixed_resolver({"mixed.test": ["93.184.216.34", "127.0.0.1"]})
    outcome = await check(f"http://mixed.test:{listener.port}/", policy=DENY, resolver=resolver, limits=QUICK)
    assert outcome.status is LinkStatus.INVALID and "blocked address 127.0.0.1" in outcome.reason
    assert listener.connections() == 0


async def test_the_system_resolver_is_checked_too(listener: CountingListener) -> None:
    outcome = await check(
        f"http://localhost:{listener.port}/", policy=DENY, resolver=system_resolver, limits=QUICK
    )
    assert outcome.status is LinkStatus.INVALID and "localhost resolves to blocked address" in outcome.reason
    assert listener.connections() == 0


PUBLIC_STAND_IN = IPv4Address("127.0.0.2")


@dataclass(frozen=True)
class TreatAsPublic(AddressPolicy):
    """The filter, except that one loopback address stands in for a public server."""

    public: IPAddress = PUBLIC_STAND_IN

    def refusal(self, addr: IPAddress) -> str | None:
        return None if addr == self.public else super().refusal(addr)


async def test_a_redirect_to_an_internal_address_is_blocked(listener: CountingListener) -> None:
    with serve("127.0.0.2") as public:
        public.routes["/"] = redirect(f"http://127.0.0.1:{listener.port}/admin")
        outcome = await check(public.url("/"), policy=TreatAsPublic(), limits=QUICK)
        assert public.paths() == ["/"]
    assert outcome.status is LinkStatus.INVALID and "blocked address 127.0.0.1" in outcome.reason
    assert outcome.blocked
    assert outcome.final_url == f"http://127.0.0.1:{listener.port}/admin"
    assert listener.connections() == 0


async def test_a_name_is_never_resolved_again_for_the_connection() -> None:
    """DNS rebinding: a name that answers public first and loopback afterwards. The
    silent listener waits on 127.0.0.1 at the page's port for a second lookup's use."""
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [parse_ip("127.0.0.2" if len(calls) == 1 else "127.0.0.1")]

    with serve("127.0.0.2") as public, counting_listener(port=public.port) as listener:
        public.routes["/"] = page(b"<title>Public</title>")
        outcome = await check(
            f"http://rebind.test:{public.port}/", policy=TreatAsPublic(), resolver=rebinding
        )
        assert (outcome.status, outcome.title) == (LinkStatus.VALID, "Public")
        assert calls == ["rebind.test"] and public.paths() == ["/"]
        assert listener.connections() == 0


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("8.8.8.8", False),
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::808:808", False),
        ("2002:808:808::1", False),
        ("127.0.0.1", True),
        ("10.255.255.255", True),
        ("172.31.255.255", True),
        ("192.168.0.1", True),
        ("100.127.255.254", True),
        ("169.254.0.1", True),
        ("192.0.2.1", True),  # documentation
        ("198.18.0.1", True),  # benchmarking
        ("240.0.0.1", True),  # reserved
        ("::", True),
        ("::1", True),
        ("::7f00:1", True),  # IPv4-compatible 127.0.0.1
        ("::808:808", True),  # IPv4-compatible, deprecated even when public
        ("::ffff:192.168.1.1", True),
        ("2002:c0a8:101::1", True),  # 6to4 of 192.168.1.1
        ("64:ff9b::c0a8:101", True),  # NAT64 of 192.168.1.1
        ("64:ff9b:1::1", True),
        ("2001::1", True),  # Teredo
        ("fe80::1%eth0", True),
        ("fc00::1", True),
        ("ff02::1", True),
        ("2001:db8::1", True),  # documentation
    ],
)
def test_address_policy(address: str, blocked: bool) -> None:
    reason = DENY.refusal(parse_ip(address))
    assert (reason is not None) is blocked, reason
    if blocked:
        assert reason is not None and reason.startswith("blocked address")
    assert ALLOW.refusal(parse_ip(address)) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f.0.0.0x1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("0x", "0.0.0.0"),
        ("1.2.3.4.", "1.2.3.4"),
        ("example.com", None),
        ("1.example", None),
        ("0xzz.com", None),
    ],
)
def test_ipv4_numbers_are_read_like_browsers_do(host: str, expected: str | None) -> None:
    parsed = parse_ipv4_number(host)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    "host", ["1.2.3.4.5", "256.0.0.1", "1.16777216", "08.0.0.1", "example.123", "0x1g.1"]
)
def test_numbers_that_are_no_address_are_malformed(host: str) -> None:
    with pytest.raises(MalformedHost):
        parse_ipv4_number(host)
