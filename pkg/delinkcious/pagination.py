"""Opaque, tamper-evident page tokens for key-based pagination.

A token carries the sort key of the last item returned and a digest of the query
it belongs to, signed with HMAC-SHA256. A client cannot forge a position, and a
token replayed with different filters is rejected rather than silently mispaging.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from delinkcious.errors import InvalidArgument

_SIG_BYTES = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def query_digest(query: Any) -> str:
    raw = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str).encode()
    return _b64(hashlib.sha256(raw).digest()[:9])


class PageTokenCodec:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("page token key must be at least 16 bytes")
        self._key = key

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIG_BYTES]

    def encode(self, position: Any, query: Any) -> str:
        payload = json.dumps({"p": position, "q": query_digest(query)}, separators=(",", ":")).encode()
        return _b64(payload + self._sign(payload))

    def decode(self, token: str, query: Any) -> Any:
        """The position in `token`, or InvalidArgument if it is forged, damaged or
        belongs to another query."""
        try:
            raw = _unb64(token)
        except (ValueError, TypeError):
            raise InvalidArgument("start_token is not a valid page token") from None
        payload, sig = raw[:-_SIG_BYTES], raw[-_SIG_BYTES:]
        # Only the one spelling this codec writes: the spare low bits of the last base64
        # character could otherwise be changed without changing the bytes.
        canonical = _b64(raw) == token
        if not canonical or len(raw) <= _SIG_BYTES or not hmac.compare_digest(sig, self._sign(payload)):
            raise InvalidArgument("start_token is not a valid page token")
        data = json.loads(payload)
        if data.get("q") != query_digest(query):
            raise InvalidArgument("start_token belongs to a different query")
        return data["p"]


def time_position(at: datetime, item_id: int) -> list[int]:
    """A (timestamp, id) keyset position as JSON integers: microseconds since the
    epoch, exact where a float or a formatted string could round."""
    return [(at - _EPOCH) // _MICROSECOND, item_id]


def parse_time_position(raw: Any) -> tuple[datetime, int]:
    """The (timestamp, id) a decoded position holds. Anything else (a token from before
    positions carried a time held a bare id) is InvalidArgument."""
    match raw:
        case [int(micros), int(item_id)] if not isinstance(micros, bool) and not isinstance(item_id, bool):
            try:
                return _EPOCH + micros * _MICROSECOND, item_id
            except OverflowError:
                pass
    raise InvalidArgument("start_token is not a valid page token")
