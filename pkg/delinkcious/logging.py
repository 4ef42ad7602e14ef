"""JSON logs, one object per line: time, level, logger, message and service on every
line, the request id and trace/span ids inside a request or a traced piece of work,
and nothing secret, ever.

Secrets are redacted from every field of every record that reaches the handler, and
from exception text, wherever they came from: header values (Authorization,
Access-Token, Delinkcious-Caller-Token, cookies), OAuth parameters (access_token,
client_secret, code, ...), passwords in URLs, bearer tokens, JWTs, and our own and
GitHub's token formats.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any, TextIO

from pythonjsonlogger.orjson import OrjsonFormatter

from delinkcious.tracing import current_request_id, log_ids

REDACTED = "[REDACTED]"

# Header names whose values are credentials, in `Name: value` or `name=value` form.
_SECRET_HEADERS = r"authorization|proxy-authorization|access-token|delinkcious-caller-token|cookie|set-cookie"
# Parameter names whose values are credentials: query strings, forms, JSON, reprs.
# `auth_token` is the Pinboard API's (`username:token`), `token` the feeds' query string.
_SECRET_PARAMS = (
    r"access_token|auth_token|refresh_token|id_token|client_secret|code|code_verifier|password|passwd|secret"
    r"|token|session_secret|caller_token|caller_tokens|page_token_key"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^@\s/]*@"), rf"\1:{REDACTED}@"),
    (
        re.compile(
            rf"(?i)\b({_SECRET_HEADERS})([\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token)\s+)?[^\s\"',;&}}]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(rf"(?i)(?<![\w-])({_SECRET_PARAMS})(=|[\"']\s*:\s*[\"']?)[^&\s\"',}}]+"), rf"\1\2{REDACTED}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"\b(dlkp?_|gh[opsur]_|github_pat_)[A-Za-z0-9_-]{8,}"), rf"\1{REDACTED}"),
)
_SECRET_KEYS = frozenset(
    name.replace("-", "_")
    for name in (_SECRET_HEADERS + "|" + _SECRET_PARAMS).split("|")
    # `code` as a field name is a gRPC status or an error code, not an OAuth code.
    if name != "code"
)
# LogRecord's own attributes: everything else on a record is an `extra`.
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


# Matches wherever any pattern above could (case-insensitively, so a superset): one
# search clears the common text with nothing secret in it, instead of every sub.
_ANY_SECRET = re.compile(
    "|".join(f"(?:{p.pattern.removeprefix('(?i)')})" for p, _ in _PATTERNS), re.IGNORECASE
)
# The same guarantee for ASCII text, lowercased, an order of magnitude cheaper: every
# pattern above needs one of these words (the names themselves, `://`, the schemes,
# the JWT and token prefixes), and a search for plain words is fast where the patterns'
# alternations are not (about 1 us instead of 18 us on a 60-character line). Case
# folding outside ASCII (K and k, for one) is left to `_ANY_SECRET`.
_MAY_HOLD_SECRET = re.compile(
    f"{_SECRET_HEADERS}|{_SECRET_PARAMS}|://|bearer|basic|eyj|dlk|gh[opsur]_|github_pat_"
)


def redact(text: str) -> str:
    if text.isascii():
        if not _MAY_HOLD_SECRET.search(text.lower()):
            return text
    elif not _ANY_SECRET.search(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth > 5:
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(k) else _redact_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, depth + 1) for v in value)
    return value


# Field names seen so far and whether they are secret: the same few extras come on
# every line. Bounded, as a dict's keys can come from anywhere.
_secret_key_seen: dict[str, bool] = {}
_SECRET_KEY_SEEN_MAX = 4096


def _is_secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    known = _secret_key_seen.get(key)
    if known is None:
        known = key.lower().replace("-", "_") in _SECRET_KEYS
        if len(_secret_key_seen) < _SECRET_KEY_SEEN_MAX:
            _secret_key_seen[key] = known
    return known


_MAY_HOLD_TEXT = (str, dict, list, tuple)


class RedactSecrets(logging.Filter):
    """Rewrites a record before any formatter sees it: the message (arguments merged),
    every extra field and the exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.getMessage())
            record.args = None
        fields = record.__dict__
        # Only the extras: the set difference is one C-level pass over the names,
        # where testing each of the record's own twenty-odd attributes is not.
        for key in fields.keys() - _RESERVED:
            value = fields[key]
            if _is_secret_key(key):
                fields[key] = REDACTED
            elif isinstance(value, _MAY_HOLD_TEXT):  # numbers, None, ... hold no text
                fields[key] = _redact_value(value)
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None  # the formatter now uses the redacted exc_text
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class ContextFields(logging.Filter):
    """The service name on every line; the request id and trace ids where there are."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI copy of the message
        request_id = current_request_id()
        if request_id and "request_id" not in record.__dict__:
            record.request_id = request_id
        for key, value in log_ids().items():
            record.__dict__.setdefault(key, value)
        return True


def json_handler(service: str, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        # orjson: the same object as the standard json module wrote, in a fraction of the time.
        OrjsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    handler.addFilter(ContextFields(service))
    handler.addFilter(RedactSecrets())
    return handler


def configure_logging(service: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    root.handlers[:] = [json_handler(service)]
    root.setLevel(level)
    # Our request middleware logs requests; uvicorn's access log would double them.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request, URL and query included, at INFO; the client transport
    # already logs nothing and counts everything.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
