"""Page tokens: round trip, and every way a client can damage or misuse one is a 400."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from delinkcious.errors import InvalidArgument
from delinkcious.pagination import PageTokenCodec

KEY = b"k" * 32
QUERY = {"user": "alice", "tags": ["python"], "url_regex": None}
POSITION = ["2026-01-02T03:04:05.000006Z", 1234]


@pytest.fixture
def codec() -> PageTokenCodec:
    return PageTokenCodec(KEY)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("position", [POSITION, 0, "last", {"at": 5, "id": "x"}, [None, -1]])
def test_round_trip(codec: PageTokenCodec, position: Any) -> None:
    token = codec.encode(position, QUERY)
    assert codec.decode(token, QUERY) == position


def test_tokens_are_url_safe(codec: PageTokenCodec) -> None:
    token = codec.encode(["\u00ff" * 50, 2**60], QUERY)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_same_query_in_another_key_order_is_the_same_query(codec: PageTokenCodec) -> None:
    token = codec.encode(POSITION, QUERY)
    reordered = dict(reversed(list(QUERY.items())))
    assert codec.decode(token, reordered) == POSITION


@pytest.mark.parametrize(
    "other_query",
    [
        {**QUERY, "user": "bob"},  # someone else's feed
        {**QUERY, "tags": ["web"]},
        {**QUERY, "url_regex": "x"},
        {"user": "alice"},
        None,
    ],
)
def test_a_token_used_with_another_query_is_invalid(codec: PageTokenCodec, other_query: Any) -> None:
    token = codec.encode(POSITION, QUERY)
    with pytest.raises(InvalidArgument):
        codec.decode(token, other_query)


def test_a_token_signed_with_another_key_is_invalid(codec: PageTokenCodec) -> None:
    token = PageTokenCodec(b"o" * 32).encode(POSITION, QUERY)
    with pytest.raises(InvalidArgument):
        codec.decode(token, QUERY)


def test_a_tampered_signature_is_invalid(codec: PageTokenCodec) -> None:
    raw = bytearray(unb64(codec.encode(POSITION, QUERY)))
    raw[-1] ^= 0x01
    with pytest.raises(InvalidArgument):
        codec.decode(b64(bytes(raw)), QUERY)


def test_a_tampered_payload_is_invalid(codec: PageTokenCodec) -> None:
    raw = unb64(codec.encode(POSITION, QUERY))
    payload, sig = raw[:-16], raw[-16:]
    forged = json.loads(payload)
    forged["p"] = ["2099-01-01T00:00:00.000000Z", 1]  # skip ahead
    with pytest.raises(InvalidArgument):
        codec.decode(b64(json.dumps(forged, separators=(",", ":")).encode() + sig), QUERY)


def test_every_single_byte_flip_is_detected(codec: PageTokenCodec) -> None:
    raw = unb64(codec.encode(POSITION, QUERY))
    for i in range(len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 0x20
        with pytest.raises(InvalidArgument):
            codec.decode(b64(bytes(damaged)), QUERY)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a",  # impossible base64 length
        "!!!!",
        "not base64 at all ~~~",
        "é",
        "\x00",
        b64(b"short"),
        b64(b"x" * 16),  # a signature's worth of bytes and no payload
        b64(b"{}" + b"\x00" * 16),
        "A" * 4000,
    ],
)
def test_garbage_tokens_are_invalid(codec: PageTokenCodec, token: str) -> None:
    with pytest.raises(InvalidArgument):
        codec.decode(token, QUERY)


def test_a_truncated_token_is_invalid(codec: PageTokenCodec) -> None:
    token = codec.encode(POSITION, QUERY)
    for cut in (1, 2, 5, len(token) // 2):
        with pytest.raises(InvalidArgument):
            codec.decode(token[:-cut], QUERY)


@pytest.mark.parametrize("key", [b"", b"k", b"k" * 15])
def test_a_short_key_is_rejected(key: bytes) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        PageTokenCodec(key)


def test_a_16_byte_key_is_enough() -> None:
    codec = PageTokenCodec(b"k" * 16)
    assert codec.decode(codec.encode(1, QUERY), QUERY) == 1
