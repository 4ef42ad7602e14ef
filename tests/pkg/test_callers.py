"""Caller authentication: a service is known by its secret, and only by its secret."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from delinkcious.callers import CallerAuthenticator
from delinkcious.errors import Unauthenticated
from tests.conftest import CALLER_SECRETS

ACCEPTED = ("api-gateway", "social-graph-manager")


@pytest.fixture
def auth() -> CallerAuthenticator:
    return CallerAuthenticator({name: SecretStr(CALLER_SECRETS[name]) for name in ACCEPTED})


@pytest.mark.parametrize("name", ACCEPTED)
def test_each_caller_is_identified_by_its_own_token(auth: CallerAuthenticator, name: str) -> None:
    assert auth.identify(CALLER_SECRETS[name]) == name


@pytest.mark.parametrize(
    "presented",
    [
        None,
        "",
        "api-gateway",  # a caller's name is not its secret
        CALLER_SECRETS["news-manager"],  # a real secret, of a caller this service does not accept
        CALLER_SECRETS["api-gateway"] + "x",
        CALLER_SECRETS["api-gateway"][:-1],
        CALLER_SECRETS["api-gateway"].upper(),
        " " + CALLER_SECRETS["api-gateway"],
        CALLER_SECRETS["api-gateway"] + "\n",
        "\u00e9" * 20,  # non-ASCII must be refused, not crash the comparison
    ],
)
def test_unknown_or_missing_tokens_are_unauthenticated(
    auth: CallerAuthenticator, presented: str | None
) -> None:
    with pytest.raises(Unauthenticated):
        auth.identify(presented)


def test_no_accepted_callers_accepts_nobody() -> None:
    with pytest.raises(Unauthenticated):
        CallerAuthenticator({}).identify(CALLER_SECRETS["api-gateway"])


def test_the_message_never_echoes_the_presented_token(auth: CallerAuthenticator) -> None:
    presented = "a-secret-someone-pasted-by-mistake"
    with pytest.raises(Unauthenticated) as refused:
        auth.identify(presented)
    assert presented not in refused.value.message
