"""load_settings: a bad configuration stops the process at once (exit 2), naming the variable."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from pydantic import Field

from delinkcious.settings import ServiceSettings, load_settings
from tests.conftest import CALLER_SECRETS, caller_tokens_env

VARIABLES = (
    "PROBE_DATABASE_URL",
    "CALLER_TOKENS",
    "CALLER_TOKEN",
    "PORT",
    "HOST",
    "LOG_LEVEL",
    "SHUTDOWN_GRACE_SECONDS",
)


class ProbeSettings(ServiceSettings):
    service_name: ClassVar[str] = "probe"
    default_port: ClassVar[int] = 4321
    accepted_callers: ClassVar[tuple[str, ...]] = ("api-gateway", "link-manager")

    database_url: str = Field(validation_alias="PROBE_DATABASE_URL", min_length=1)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def good_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_DATABASE_URL", "sqlite:///probe.db")
    monkeypatch.setenv("CALLER_TOKENS", caller_tokens_env("api-gateway", "link-manager"))


def refused(capsys: pytest.CaptureFixture[str]) -> str:
    """Loads the settings, expects exit status 2, returns what was said on stderr."""
    with pytest.raises(SystemExit) as exited:
        load_settings(ProbeSettings)
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_a_good_environment_loads(good_environment: None) -> None:
    settings = load_settings(ProbeSettings)
    assert settings.database_url == "sqlite:///probe.db"
    assert settings.port == 4321  # the service's default when PORT is unset
    assert settings.caller_tokens["link-manager"].get_secret_value() == CALLER_SECRETS["link-manager"]
    assert CALLER_SECRETS["link-manager"] not in repr(settings)  # secrets stay out of logs


def test_an_explicit_port_wins(good_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9999")
    assert load_settings(ProbeSettings).port == 9999


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("LOG_LEVEL", "LOUD"),
        ("SHUTDOWN_GRACE_SECONDS", "-1"),
        ("PROBE_DATABASE_URL", ""),
        ("CALLER_TOKENS", "[1, 2]"),
    ],
)
def test_a_bad_variable_exits_2_naming_it(
    good_environment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    err = refused(capsys)
    assert "ProbeSettings: invalid configuration" in err
    assert variable in err


def test_a_missing_variable_exits_2_naming_it(
    good_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PROBE_DATABASE_URL")
    assert "PROBE_DATABASE_URL" in refused(capsys)


def test_every_problem_is_named_at_once(
    good_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PROBE_DATABASE_URL")
    monkeypatch.setenv("PORT", "eighty")
    err = refused(capsys)
    assert "PROBE_DATABASE_URL" in err and "PORT" in err


def test_a_missing_caller_token_exits_2_naming_the_caller(
    good_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLER_TOKENS", caller_tokens_env("api-gateway"))
    err = refused(capsys)
    assert "CALLER_TOKENS" in err and "link-manager" in err


def test_a_short_caller_token_is_rejected(
    good_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    short = "fifteen-chars-x"
    assert len(short) == 15
    monkeypatch.setenv(
        "CALLER_TOKENS", json.dumps({"api-gateway": CALLER_SECRETS["api-gateway"], "link-manager": short})
    )
    err = refused(capsys)
    assert "CALLER_TOKENS" in err and "link-manager" in err
    assert short not in err  # the message names the caller, never the secret


def test_a_16_character_caller_token_is_enough(
    good_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLER_TOKENS", json.dumps({"api-gateway": "x" * 16, "link-manager": "y" * 16}))
    assert load_settings(ProbeSettings).caller_tokens["api-gateway"].get_secret_value() == "x" * 16


def test_caller_tokens_that_are_not_json_exit_2_naming_the_variable(
    good_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A typo in a Secret is the likeliest mistake of all; it must not be a traceback.
    monkeypatch.setenv("CALLER_TOKENS", "{api-gateway: oops")
    try:
        load_settings(ProbeSettings)
    except SystemExit as exited:
        assert exited.code == 2
    except Exception as exc:  # what happens today: a traceback and exit status 1
        pytest.fail(f"load_settings raised {type(exc).__name__} instead of exiting 2: {exc}")
    else:
        pytest.fail("malformed CALLER_TOKENS was accepted")
    assert "CALLER_TOKENS" in capsys.readouterr().err
