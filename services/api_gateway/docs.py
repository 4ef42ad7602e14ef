"""OpenAPI descriptions of the error responses, so /docs shows every 4xx a route gives."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_argument"])
    message: str = Field(examples=["url must be an absolute http or https URL"])


class ErrorBody(BaseModel):
    error: ErrorDetail


_WHEN = {
    400: "Invalid argument: malformed JSON, a missing, oversized or ill-formed field, "
    "a bad regex or page token",
    401: "Unauthenticated: no token, or an unknown, expired or revoked one",
    403: "Permission denied: e.g. a personal API token of scope `feeds` outside the feeds",
    404: "Not found",
    409: "Conflict: `already_exists` or `limit_exceeded`",
    413: "Payload too large: the body is over 1 MiB",
    429: "Rate limited: too many requests from this user; see the Retry-After header",
    503: "Unavailable: a service behind the gateway is down or timed out; nothing was half-done",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        responses[status] = {"model": ErrorBody, "description": _WHEN[status]}
        if status == 429:
            responses[status]["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
    return responses


# Every authenticated route can answer these.
AUTHED = (400, 401, 403, 413, 429, 503)
