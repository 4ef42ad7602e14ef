"""The local run's secrets: made once, kept in the data folder, reused after.

Caller secrets and page token keys have no committed values anywhere. The local
run generates them on its first start and keeps them (mode 0600) so that tokens
handed out by one run, such as page tokens, stay valid after a restart.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SECRETS_FILE = "secrets.json"
_MODE = 0o600


class SecretsFileError(RuntimeError):
    pass


@dataclass(frozen=True)
class LocalSecrets:
    caller_tokens: dict[str, str]  # caller name -> the secret it presents
    page_token_keys: dict[str, str]  # service name -> its page token signing key


def _new_secret() -> str:
    # Hex: valid whether a service reads the value as text, hex or base64.
    return secrets.token_hex(32)


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise SecretsFileError(f"{path} is not valid JSON ({exc}); delete it to regenerate") from None
    ok = isinstance(data, dict) and all(
        isinstance(data.get(k, {}), dict)
        and all(isinstance(v, str) and len(v) >= 16 for v in data.get(k, {}).values())
        for k in ("caller_tokens", "page_token_keys")
    )
    if not ok:
        raise SecretsFileError(f"{path} does not hold the expected secrets; delete it to regenerate")
    return {k: dict(data.get(k, {})) for k in ("caller_tokens", "page_token_keys")}


def _write(path: Path, data: dict[str, dict[str, str]]) -> None:
    # Write a 0600 temporary file and rename it over: no moment where the secrets
    # are readable by others, and no half-written file after a crash.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _MODE)
    try:
        os.fchmod(fd, _MODE)
        os.write(fd, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_or_create(path: Path, callers: Iterable[str], page_key_owners: Iterable[str]) -> LocalSecrets:
    """The secrets in `path`, adding any that are missing; existing ones never change."""
    data = _read(path) if path.exists() else {"caller_tokens": {}, "page_token_keys": {}}
    changed = not path.exists()
    for section, names in (("caller_tokens", callers), ("page_token_keys", page_key_owners)):
        for name in names:
            if name not in data[section]:
                data[section][name] = _new_secret()
                changed = True
    if changed:
        _write(path, data)
    elif path.stat().st_mode & 0o777 != _MODE:
        path.chmod(_MODE)  # someone widened it; secrets are for this user only
    return LocalSecrets(caller_tokens=data["caller_tokens"], page_token_keys=data["page_token_keys"])
