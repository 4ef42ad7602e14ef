"""Calls to identity providers, with their failures mapped to api.md's errors:
unreachable, timed out or failing (5xx) is 503; a refusal (4xx, an OAuth `error`) is 401.
Messages name the provider and the OAuth error code, never a secret or a token."""

from __future__ import annotations

import re
from typing import Any

import httpx

from delinkcious.errors import Unauthenticated, Unavailable

USER_AGENT = "Delinkcious-API-Gateway"
_SAFE_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def safe_error_code(value: object) -> str:
    """An OAuth error code fit to quote in a message (they come from the query string too)."""
    return value if isinstance(value, str) and _SAFE_CODE.fullmatch(value) else "unspecified_error"


async def send(
    http: httpx.AsyncClient, provider: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    try:
        return await http.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise Unavailable(f"{provider} timed out") from None
    except (httpx.TransportError, httpx.InvalidURL):
        raise Unavailable(f"{provider} is unreachable") from None


def json_of(response: httpx.Response, provider: str) -> Any:
    if response.status_code >= 500:
        raise Unavailable(f"{provider} failed ({response.status_code})")
    try:
        return response.json()
    except ValueError:
        raise Unavailable(
            f"{provider} answered {response.status_code} with something other than JSON"
        ) from None


def token_response(response: httpx.Response, provider: str) -> dict[str, Any]:
    """The body of a token endpoint's answer, or 401 when it refused the code (RFC 6749 5.2;
    GitHub says so with a 200 and an `error` member)."""
    body = json_of(response, provider)
    if isinstance(body, dict) and "error" in body:
        raise Unauthenticated(f"{provider} refused the code exchange: {safe_error_code(body['error'])}")
    if response.status_code >= 400:
        raise Unauthenticated(f"{provider} refused the code exchange ({response.status_code})")
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise Unauthenticated(f"{provider} returned no access token")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise Unauthenticated(f"{provider} returned a token of an unsupported type")
    return body
