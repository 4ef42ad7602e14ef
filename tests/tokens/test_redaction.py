"""A personal API token that reaches a log line is redacted, like a login token."""

from __future__ import annotations

from delinkcious.logging import REDACTED, redact
from user_service.service import API_TOKEN_PREFIX


def test_personal_tokens_are_redacted_in_free_text() -> None:
    secret = API_TOKEN_PREFIX + "Zq9-x_YbW3kLm0pQrStUvWxYz0123456789abcdEFG"
    line = redact(f"script sent {secret} from 10.0.0.1")
    assert secret.removeprefix(API_TOKEN_PREFIX) not in line
    assert line == f"script sent {API_TOKEN_PREFIX}{REDACTED} from 10.0.0.1"
