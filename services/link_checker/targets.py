"""A URL taken apart into what the checker connects to and what it sends.

The host is pinned here: an IP literal (in any spelling) becomes its canonical
address, a name becomes its IDNA form. The request is then sent to a checked address
with this host in the `Host` header and as the TLS server name, never re-resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from link_checker.addresses import (
    IPAddress,
    MalformedHost,
    ascii_hostname,
    parse_ipv4_number,
    parse_ipv6_literal,
)

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 characters kept as they are; anything else (spaces, non-ASCII) is escaped.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class Refused(Exception):
    """The check stops here and the link is invalid, for the reason given."""


class Blocked(Refused):
    """Refused because the address is one the checker must not connect to."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # IDNA name, or the canonical form of an IP literal
    literal: IPAddress | None
    port: int
    path: str  # path and query, ASCII

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def tls_server_name(self) -> str | None:
        return self.host if self.scheme == "https" and self.literal is None else None


def parse_target(url: str) -> Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        hostname = parts.hostname
    except ValueError as exc:
        raise Refused(f"malformed url: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise Refused(f"unsupported scheme {scheme!r}: only http and https are checked")
    if not hostname:
        raise Refused("url has no host")
    bracketed = parts.netloc.rpartition("@")[2].startswith("[")
    try:
        literal: IPAddress | None = parse_ipv6_literal(hostname) if bracketed else parse_ipv4_number(hostname)
        host = str(literal) if literal is not None else ascii_hostname(hostname)
    except MalformedHost as exc:
        raise Refused(f"malformed host: {exc}") from None
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        literal=literal,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        path=path,
    )
