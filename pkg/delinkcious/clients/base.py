"""What every internal HTTP client shares: a pooled httpx client with timeouts,
the caller token on every request, and error bodies turned back into the
exceptions the called service raised."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from delinkcious.callers import CALLER_TOKEN_HEADER
from delinkcious.errors import ERRORS_BY_CODE, DelinkciousError, Internal, Unavailable

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class ServiceClient:
    """Only idempotent reads are retried: a retried write could apply twice."""

    service = "service"

    def __init__(
        self,
        base_url: str,
        caller_token: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        read_retries: int = 1,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={CALLER_TOKEN_HEADER: caller_token},
            timeout=timeout,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            transport=transport,
        )
        self._read_retries = read_retries

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        attempts = 1 + (self._read_retries if method == "GET" else 0)
        for attempt in range(attempts):
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TimeoutException:
                if attempt + 1 < attempts:
                    continue
                raise Unavailable(f"{self.service} timed out") from None
            except httpx.TransportError:
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.05)
                    continue
                raise Unavailable(f"{self.service} is unreachable") from None
            if response.status_code < 400:
                return response
            raise _error_from(response, self.service)
        raise AssertionError("unreachable")

    async def get_model(self, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate_json((await self.request("GET", path, **kwargs)).content)

    async def send_model(self, method: str, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate_json((await self.request(method, path, **kwargs)).content)


def _error_from(response: httpx.Response, service: str) -> DelinkciousError:
    try:
        err = response.json()["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "", ""
    if response.status_code >= 500:
        # The callee's internals are not ours to pass on; only say who failed.
        return Unavailable(f"{service} failed ({response.status_code})")
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        return Internal(f"{service} answered {response.status_code} without an error body")
    return cls(message)
