"""The local run's secrets are generated once, private, and reused."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from delinkcious.localrun.secretfile import SecretsFileError, load_or_create

CALLERS = ["api-gateway", "social-graph-manager"]
PAGE_KEYS = ["link-manager"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_load_creates_a_private_file_of_strong_distinct_secrets(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    secrets = load_or_create(path, CALLERS, PAGE_KEYS)
    assert mode(path) == 0o600
    values = [*secrets.caller_tokens.values(), *secrets.page_token_keys.values()]
    assert sorted(secrets.caller_tokens) == CALLERS
    assert list(secrets.page_token_keys) == PAGE_KEYS
    assert all(len(v) >= 32 for v in values)
    assert len(set(values)) == len(values)
    assert json.loads(path.read_text())["caller_tokens"] == secrets.caller_tokens


def test_a_second_load_reuses_the_file_without_rewriting_it(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    first = load_or_create(path, CALLERS, PAGE_KEYS)
    before = (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino)
    second = load_or_create(path, CALLERS, PAGE_KEYS)
    assert second == first
    assert (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino) == before


def test_a_new_name_gets_a_secret_and_the_old_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    first = load_or_create(path, CALLERS, PAGE_KEYS)
    grown = load_or_create(path, [*CALLERS, "news-manager"], [*PAGE_KEYS, "social-graph-manager"])
    assert {k: grown.caller_tokens[k] for k in CALLERS} == first.caller_tokens
    assert grown.page_token_keys["link-manager"] == first.page_token_keys["link-manager"]
    assert "news-manager" in grown.caller_tokens
    assert "social-graph-manager" in grown.page_token_keys
    assert mode(path) == 0o600
    assert load_or_create(path, [*CALLERS, "news-manager"], PAGE_KEYS).caller_tokens == grown.caller_tokens


def test_a_widened_file_is_made_private_again(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    load_or_create(path, CALLERS, PAGE_KEYS)
    path.chmod(0o644)
    load_or_create(path, CALLERS, PAGE_KEYS)
    assert mode(path) == 0o600


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"caller_tokens": {"api-gateway": "short"}}', '{"caller_tokens": []}'],
)
def test_a_damaged_file_is_reported_not_silently_replaced(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(content)
    with pytest.raises(SecretsFileError, match="delete it to regenerate"):
        load_or_create(path, CALLERS, PAGE_KEYS)
    assert path.read_text() == content
