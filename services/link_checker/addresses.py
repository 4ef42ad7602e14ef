"""Which addresses the checker may connect to, and what a URL's host really is.

Users type the URLs, and the checker runs inside the cluster, so every address it
would connect to is checked first: nothing internal (loopback, private networks,
cloud metadata, ...) and no IPv6 form that smuggles such an IPv4 address inside.
Hosts written as odd IPv4 numbers (`2130706433`, `0x7f.1`, `0177.0.0.1`) are read the
way browsers and the C resolver read them, so they are checked as the address they
really name.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

_CGNAT = IPv4Network("100.64.0.0/10")
_BROADCAST = IPv4Address("255.255.255.255")
# IPv6 prefixes that carry an IPv4 address in their low 32 bits.
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64_WELL_KNOWN = IPv6Network("64:ff9b::/96")
# Local-use NAT64 (RFC 8215) embeds the IPv4 address at an operator-chosen place.
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_TEREDO = IPv6Network("2001::/32")
_UNIQUE_LOCAL = IPv6Network("fc00::/7")

_HEX = re.compile(r"^0[xX][0-9a-fA-F]*$")
_DECIMAL = re.compile(r"^[0-9]+$")
_HOSTNAME = re.compile(r"^(?=.{1,253}\.?$)[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*\.?$")


class MalformedHost(ValueError):
    """The host is neither a valid IP address nor a valid DNS name."""


def refusal(addr: IPAddress) -> str | None:
    """Why an address must not be connected to, or None when it is a public one."""
    if isinstance(addr, IPv6Address):
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            inner = refusal(embedded)
            if inner:
                return f"{inner} {embedded} embedded in IPv6"
            if addr in _IPV4_COMPATIBLE:
                return "deprecated IPv4-compatible address"
            return None
        if addr in _NAT64_LOCAL:
            return "local-use NAT64 address"
        if addr in _TEREDO:
            return "Teredo address"
    return _category(addr)


def _embedded_ipv4(addr: IPv6Address) -> IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64_WELL_KNOWN or (addr in _IPV4_COMPATIBLE and int(addr) > 1):
        # `::` and `::1` are the IPv6 unspecified and loopback addresses, not
        # IPv4-compatible ones; they are refused as what they are below.
        return IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _category(addr: IPAddress) -> str | None:
    checks: tuple[tuple[bool, str], ...] = (
        (addr.is_unspecified, "unspecified"),
        (addr.is_loopback, "loopback"),
        (addr.is_link_local, "link-local"),
        (isinstance(addr, IPv4Address) and addr in _CGNAT, "shared (CGNAT)"),
        (isinstance(addr, IPv6Address) and addr in _UNIQUE_LOCAL, "unique-local"),
        (addr.is_multicast, "multicast"),
        (isinstance(addr, IPv4Address) and addr == _BROADCAST, "broadcast"),
        (addr.is_reserved, "reserved"),
        (addr.is_private, "private"),
        # Everything else IANA lists as special (documentation, benchmarking, ...).
        (not addr.is_global, "not globally routable"),
    )
    for matched, name in checks:
        if matched:
            return name
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """`allow_private` turns the filter off, for local runs and tests serving pages on
    127.0.0.1; it is off by default and in every deployment."""

    allow_private: bool = False

    def refusal(self, addr: IPAddress) -> str | None:
        if self.allow_private:
            return None
        reason = refusal(addr)
        return f"blocked address {addr} ({reason})" if reason else None


def parse_ipv4_number(host: str) -> IPv4Address | None:
    """Reads a host the way browsers do (WHATWG URL "IPv4 parser", the same forms
    inet_aton accepts): 1-4 dot-separated decimal, octal (leading 0) or hex (0x)
    numbers, the last filling the remaining bytes. None when the host is a name;
    MalformedHost when it ends in a number but is not a valid address."""
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not _is_number(labels[-1]):
        return None
    if len(labels) > 4:
        raise MalformedHost(f"{host!r} ends in a number but is not an IPv4 address")
    numbers = [_number(label, host) for label in labels]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise MalformedHost(f"{host!r} is out of range for an IPv4 address")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return IPv4Address(value)


def _is_number(label: str) -> bool:
    return bool(_DECIMAL.match(label) or _HEX.match(label))


def _number(label: str, host: str) -> int:
    try:
        if _HEX.match(label):
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label[1:], 8)
        if _DECIMAL.match(label):
            return int(label)
    except ValueError:
        pass
    raise MalformedHost(f"{host!r} has a label that is not a number: {label!r}")


def parse_ipv6_literal(text: str) -> IPv6Address:
    try:
        return IPv6Address(text.replace("%25", "%"))
    except ValueError:
        raise MalformedHost(f"[{text}] is not an IPv6 address") from None


def ascii_hostname(host: str) -> str:
    """The DNS name as sent on the wire (IDNA), refusing anything that is not one."""
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise MalformedHost(f"{host!r} is not a valid host name") from None
    if not _HOSTNAME.match(name):
        raise MalformedHost(f"{host!r} is not a valid host name")
    # "example.com." is "example.com"; the dot has no place in Host or the TLS name.
    return name.removesuffix(".")


def parse_ip(text: str) -> IPAddress:
    """An address as a resolver reports it (IPv6 possibly with a zone)."""
    return ipaddress.ip_address(text)
