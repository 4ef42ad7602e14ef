"""SocialGraphSettings: required settings are required, with messages that say why."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from delinkcious.settings import load_settings
from social_graph_service.settings import SocialGraphSettings
from tests.conftest import CALLER_SECRETS, caller_tokens_env
from tests.social_graph.support import social_settings

URL = "sqlite:///unused.db"


def test_defaults() -> None:
    settings = social_settings(URL)
    assert settings.port == 9090
    assert settings.user_manager_url == "http://user-manager:7070"
    assert settings.service_name == "social-graph-manager"


def test_own_caller_token_is_required() -> None:
    with pytest.raises(ValidationError, match="CALLER_TOKEN is required"):
        social_settings(URL, CALLER_TOKEN=None)
    with pytest.raises(ValidationError, match="CALLER_TOKEN is required"):
        social_settings(URL, CALLER_TOKEN="")
    with pytest.raises(ValidationError, match="CALLER_TOKEN is shorter"):
        social_settings(URL, CALLER_TOKEN="short")


def test_page_token_key_is_required_and_long_enough() -> None:
    with pytest.raises(ValidationError, match="PAGE_TOKEN_KEY"):
        SocialGraphSettings(
            SOCIAL_GRAPH_MANAGER_DATABASE_URL=URL,
            CALLER_TOKENS=dict(CALLER_SECRETS),
            CALLER_TOKEN="c" * 16,
        )
    with pytest.raises(ValidationError, match="at least 16 characters"):
        social_settings(URL, PAGE_TOKEN_KEY="x" * 15)


def test_both_callers_need_tokens() -> None:
    with pytest.raises(ValidationError, match="news-manager"):
        social_settings(URL, CALLER_TOKENS={"api-gateway": CALLER_SECRETS["api-gateway"]})


def test_loaded_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIAL_GRAPH_MANAGER_DATABASE_URL", URL)
    monkeypatch.setenv("CALLER_TOKENS", caller_tokens_env("api-gateway", "news-manager"))
    monkeypatch.setenv("CALLER_TOKEN", CALLER_SECRETS["social-graph-manager"])
    monkeypatch.setenv("PAGE_TOKEN_KEY", "k" * 32)
    monkeypatch.setenv("USER_MANAGER_URL", "http://127.0.0.1:7070")
    settings = load_settings(SocialGraphSettings)
    assert settings.user_manager_url == "http://127.0.0.1:7070"
    assert settings.caller_tokens["news-manager"].get_secret_value() == CALLER_SECRETS["news-manager"]


def test_missing_settings_stop_the_process_naming_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SOCIAL_GRAPH_MANAGER_DATABASE_URL", "PAGE_TOKEN_KEY", "CALLER_TOKEN", "CALLER_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        load_settings(SocialGraphSettings)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "SOCIAL_GRAPH_MANAGER_DATABASE_URL" in err
    assert "PAGE_TOKEN_KEY" in err
