"""The login cookie and the single-use record of states, on their own."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from api_gateway.login.cookies import MAX_AGE_SECONDS, LoginCookies, PendingLogin
from api_gateway.login.states import InMemoryUsedStates
from delinkcious.errors import Unauthenticated, Unavailable

SECRET = "unit-test-session-secret-0123456789"
PENDING = PendingLogin(provider="oidc", state="s" * 43, code_verifier="v" * 64, nonce="n" * 43)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_state_is_used_once_for_as_long_as_its_cookie_lives() -> None:
    clock = Clock()
    states = InMemoryUsedStates(clock=clock)
    assert await states.first_use("abc", ttl_seconds=600)
    assert not await states.first_use("abc", ttl_seconds=600)
    clock.now += 599
    assert not await states.first_use("abc", ttl_seconds=600)
    assert await states.first_use("other", ttl_seconds=600)
    clock.now += 2  # its cookie has expired by now, so the record may go
    assert await states.first_use("abc", ttl_seconds=600)


async def test_a_full_record_refuses_rather_than_forgets() -> None:
    clock = Clock()
    states = InMemoryUsedStates(max_entries=2, clock=clock)
    assert await states.first_use("a", ttl_seconds=10)
    assert await states.first_use("b", ttl_seconds=20)
    with pytest.raises(Unavailable):
        await states.first_use("c", ttl_seconds=10)
    assert not await states.first_use("a", ttl_seconds=10)  # still remembered
    clock.now += 15  # "a" expires and makes room
    assert await states.first_use("c", ttl_seconds=10)
    assert not await states.first_use("b", ttl_seconds=10)


def test_the_cookie_round_trips() -> None:
    cookies = LoginCookies(SECRET, secure=True)
    assert cookies.decode("oidc", cookies.encode(PENDING)) == PENDING
    github = PendingLogin(provider="github", state="t" * 43, code_verifier="w" * 64)
    assert cookies.decode("github", cookies.encode(github)) == github


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda c: LoginCookies(SECRET, secure=True).encode(
                PENDING, now=time.time() - MAX_AGE_SECONDS - 1
            ),
            id="expired",
        ),
        pytest.param(
            lambda c: LoginCookies("another-secret-0123456789abcdefgh", secure=True).encode(PENDING),
            id="other-key",
        ),
        pytest.param(
            lambda c: c.encode(PendingLogin("github", PENDING.state, PENDING.code_verifier)),
            id="other-provider",
        ),
        pytest.param(lambda c: c.encode(PENDING) + "x", id="altered"),
        pytest.param(lambda c: "x" * 5000, id="oversized"),
        pytest.param(lambda c: "eyJhbGciOiJub25lIn0.eyJwcnYiOiJvaWRjIn0.", id="unsigned"),
    ],
)
def test_a_bad_cookie_is_unauthenticated(tamper: Callable[[LoginCookies], str]) -> None:
    cookies = LoginCookies(SECRET, secure=True)
    value = tamper(cookies)
    with pytest.raises(Unauthenticated, match="login cookie is invalid or expired"):
        cookies.decode("oidc", value)
