"""The redaction filter: a secret that reaches a log record, in the message, its
arguments, an extra field (nested or not) or an exception, is never written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

from delinkcious.logging import _PATTERNS, _SECRET_HEADERS, _SECRET_PARAMS, REDACTED, json_handler, redact


def _log_through_the_handler(logger: logging.Logger, emit: Callable[[], None]) -> str:
    stream = io.StringIO()
    handler = json_handler("redaction-test", stream)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        emit()
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_secrets_that_reach_a_record_are_redacted_wherever_they_are() -> None:
    log = logging.getLogger("tests.observability.redaction")
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLWJ5dGVz"

    def emit() -> None:
        log.info(
            "calling %s with Authorization: Bearer %s",
            "https://alice:hunter2-password@db.example.com:5432/links?code=oauth-code-123&state=kept",
            "opaque-bearer-value-99",
            extra={
                "headers": {
                    "Delinkcious-Caller-Token": "caller-secret-value-1",
                    "Access-Token": "dlk_abcdefghijklmnopqrstuvwxyz0123",
                    "Accept": "application/json",
                },
                "form": "grant_type=code&client_secret=client-secret-xyz&code_verifier=v3rifier",
                "body": '{"access_token": "gho_0123456789abcdef0123456789abcdef", "token_type": "bearer"}',
                "id_token": jwt,
                "code": "OK",  # a gRPC status under the name `code` is not an OAuth code
            },
        )
        try:
            raise RuntimeError(
                "refused token dlk_zyxwvutsrqponmlkjihgfedcba987 for client_secret=s3cr3t-again"
            )
        except RuntimeError:
            log.exception("unexpected failure at postgresql://svc:pg-password-77@db/links")

    output = _log_through_the_handler(log, emit)
    for secret in (
        "hunter2-password",
        "oauth-code-123",
        "opaque-bearer-value-99",
        "caller-secret-value-1",
        "dlk_abcdefghijklmnopqrstuvwxyz0123",
        "client-secret-xyz",
        "v3rifier",
        "gho_0123456789abcdef0123456789abcdef",
        jwt,
        "dlk_zyxwvutsrqponmlkjihgfedcba987",
        "s3cr3t-again",
        "pg-password-77",
    ):
        assert secret not in output, secret
    first, second = (json.loads(line) for line in output.splitlines())
    assert REDACTED in first["message"] and "state=kept" in first["message"]
    assert "db.example.com:5432/links" in first["message"]
    assert first["headers"]["Accept"] == "application/json"
    assert first["headers"]["Delinkcious-Caller-Token"] == REDACTED
    assert first["code"] == "OK"
    assert "RuntimeError" in second["exc_info"] and REDACTED in second["exc_info"]
    assert "postgresql://svc:" + REDACTED + "@db/links" in second["message"]


def _every_substitution(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def test_the_quick_check_never_lets_through_what_a_pattern_would_redact() -> None:
    # `redact` skips the substitutions when a cheap search says nothing can match:
    # each name and form every pattern knows, in any case, must still be rewritten.
    names = (_SECRET_HEADERS + "|" + _SECRET_PARAMS).split("|")
    samples = [f"{name}=value-123456" for name in names]
    samples += [f'{{"{name}": "value-123456"}}' for name in names]
    samples += [f"{name}: Bearer value-123456" for name in names]
    samples += [
        "https://alice:hunter2@db.example.com/x",
        "sent Basic dXNlcjpwYXNzd29yZA== upstream",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJl",
        "dlk_abcdefghijkl dlkp_abcdefghijkl gho_abcdefghijkl ghp_abcdefghijkl",
        "ghs_abcdefghijkl ghu_abcdefghijkl ghr_abcdefghijkl github_pat_abcdefghijkl",
        "to\u212aen=value-123456 (a Kelvin sign folds to k)",
    ]
    for sample in samples:
        for text in (sample, sample.upper(), sample.title(), f"prefix {sample} suffix"):
            expected = _every_substitution(text)
            assert redact(text) == expected, text
            if text == sample:
                assert expected != text, f"the sample {text!r} tests nothing"
