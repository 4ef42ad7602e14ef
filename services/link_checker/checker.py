"""Checks one URL: valid when it answers below 400 within 5 redirects, else invalid.

Every hop is resolved once, every resolved address is checked against the policy,
and the request goes to a checked address (the name only travels in the `Host`
header and as the TLS server name), so DNS cannot answer differently between the
check and the connection.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin

import httpx

from delinkcious.models import LinkStatus
from link_checker.addresses import AddressPolicy, IPAddress, parse_ip
from link_checker.limits import CheckLimits
from link_checker.targets import Blocked, Refused, Target, parse_target
from link_checker.titles import is_html, read_title

USER_AGENT = "Delinkcious-LinkChecker/1.0"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# We never read more than 1 MiB; a small receive buffer keeps the kernel from pulling
# in megabytes of a large page that would be thrown away.
RECEIVE_BUFFER_BYTES = 256 * 1024

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]


@dataclass(frozen=True)
class CheckOutcome:
    status: LinkStatus
    title: str | None
    reason: str
    final_url: str
    blocked: bool = False  # refused by the address policy


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        addr = parse_ip(str(sockaddr[0]))
        if addr not in addresses:
            addresses.append(addr)
    return addresses


async def check_url(
    url: str,
    *,
    policy: AddressPolicy,
    limits: CheckLimits,
    resolver: Resolver = system_resolver,
    tls: ssl.SSLContext | None = None,
) -> CheckOutcome:
    """Never raises for anything the URL or the remote side does: every failure is an
    `invalid` outcome with its reason. `resolver` turns a name into addresses (the
    system's by default); `tls` replaces the default certificate verification."""
    budget = _Budget(limits.total_timeout)
    current = url
    async with limits.check_slot(), _client(limits, tls) as client:
        for hop in range(limits.max_redirects + 1):
            try:
                target = parse_target(current)
                async with limits.host_slot(target.host), budget.spend():
                    addresses = await _checked_addresses(target, policy, resolver)
                    status, location, title = await _fetch(client, target, addresses, limits)
            except Refused as exc:
                return _invalid(str(exc), current, blocked=isinstance(exc, Blocked))
            except httpx.ConnectTimeout:
                return _invalid(f"connecting timed out (limit {limits.connect_timeout:g}s)", current)
            except (TimeoutError, httpx.TimeoutException):
                return _invalid(f"timed out (limit {limits.total_timeout:g}s per check)", current)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                return _invalid(f"request failed: {type(exc).__name__}: {exc}", current)
            if location is None:
                after = f" after {hop} redirect{'s' * (hop != 1)}" if hop else ""
                verdict = LinkStatus.VALID if status < 400 else LinkStatus.INVALID
                return CheckOutcome(verdict, title, f"HTTP {status}{after}", current)
            if hop == limits.max_redirects:
                return _invalid(f"more than {limits.max_redirects} redirects", current)
            current = urljoin(current, location)
    raise AssertionError("unreachable: the loop returns on its last hop")


def _invalid(reason: str, url: str, blocked: bool = False) -> CheckOutcome:
    return CheckOutcome(LinkStatus.INVALID, None, reason, url, blocked)


async def _checked_addresses(target: Target, policy: AddressPolicy, resolver: Resolver) -> list[IPAddress]:
    if target.literal is not None:
        reason = policy.refusal(target.literal)
        if reason:
            raise Blocked(reason)
        return [target.literal]
    try:
        addresses = list(await resolver(target.host, target.port))
    except (OSError, UnicodeError) as exc:
        raise Refused(f"DNS lookup of {target.host} failed: {exc}") from None
    if not addresses:
        raise Refused(f"DNS lookup of {target.host} returned no address")
    # One bad address refuses the host: which one a connection would use is not ours
    # to predict, and a name that mixes public and internal addresses is suspicious.
    for addr in addresses:
        reason = policy.refusal(addr)
        if reason:
            raise Blocked(f"{target.host} resolves to {reason}")
    return addresses


async def _fetch(
    client: httpx.AsyncClient, target: Target, addresses: list[IPAddress], limits: CheckLimits
) -> tuple[int, str | None, str | None]:
    """(status, redirect location, title). Tries the checked addresses in order until
    one accepts the connection (a host's IPv6 address may be unreachable from here)."""
    failure: httpx.HTTPError | None = None
    extensions = {"sni_hostname": target.tls_server_name} if target.tls_server_name else {}
    for addr in addresses:
        request = client.build_request(
            "GET",
            httpx.URL(scheme=target.scheme, host=str(addr), port=target.port, raw_path=target.path.encode()),
            headers={"Host": target.host_header},
            extensions=extensions,
        )
        try:
            response = await client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failure = exc
            continue
        try:
            return await _read(response, limits)
        finally:
            await response.aclose()
    assert failure is not None
    raise failure


async def _read(response: httpx.Response, limits: CheckLimits) -> tuple[int, str | None, str | None]:
    status = response.status_code
    location = response.headers.get("location") if status in REDIRECT_STATUSES else None
    if location is not None or status >= 400 or not is_html(response.headers.get("content-type")):
        return status, location, None  # the body is never read
    title = await read_title(
        response.aiter_raw(),
        content_encoding=response.headers.get("content-encoding"),
        charset=response.charset_encoding,
        max_bytes=limits.max_body_bytes,
    )
    return status, None, title


@asynccontextmanager
async def _client(limits: CheckLimits, tls: ssl.SSLContext | None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(
        verify=tls or _default_tls(),
        # No reuse: a connection verified for one name must not serve another name
        # that happens to share its address.
        limits=httpx.Limits(max_keepalive_connections=0),
        socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)],
    )
    async with httpx.AsyncClient(
        transport=transport,
        # No proxies from the environment: a proxy would resolve names itself.
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(limits.total_timeout, connect=limits.connect_timeout),
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
            "Accept-Encoding": "identity",
        },
    ) as client:
        yield client


@lru_cache(maxsize=1)
def _default_tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()


class _Budget:
    """Time left for the check; only time spent working is counted."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    @asynccontextmanager
    async def spend(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            async with asyncio.timeout(max(self.left, 0.0)):
                yield
        finally:
            self.left -= loop.time() - start
