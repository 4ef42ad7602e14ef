"""What every internal HTTP client shares: a pooled httpx client with timeouts,
the caller token on every request, a client span, metrics and the trace context and
request id on every attempt, and error bodies turned back into the exceptions the
called service raised."""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypeVar

import httpx
from opentelemetry.trace import SpanKind
from pydantic import BaseModel

from delinkcious import tracing
from delinkcious.callers import CALLER_TOKEN_HEADER
from delinkcious.errors import ERRORS_BY_CODE, DelinkciousError, Internal, Unavailable
from delinkcious.metrics import HTTP_CLIENT_DURATION, HTTP_CLIENT_REQUESTS

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

# The path segment after one of these is a value (a username), not part of the route.
_PARAMETER_AFTER = {
    "users": "{username}",
    "following": "{followed}",
    "api-tokens": "{token_id}",
    "tags": "{name}",
}


def route_template(path: str) -> str:
    """`/users/alice/following/bob` -> `/users/{username}/following/{followed}`: the
    route as the called service declares it, so metric labels stay few."""
    out: list[str] = []
    previous: str | None = None
    for part in path.split("/"):
        name = _PARAMETER_AFTER.get(previous or "") if part else None
        out.append(name or part)
        previous = None if name else part
    return "/".join(out)


class TelemetryTransport(httpx.AsyncBaseTransport):
    """Wraps the real transport, so each attempt (a retry included) is one client span
    and one sample, and carries the trace context and request id."""

    def __init__(self, inner: httpx.AsyncBaseTransport, target: str) -> None:
        self._inner = inner
        self._target = target

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = request.method
        route = route_template(request.url.path)
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "url.template": route,
            "server.address": request.url.host,
            "delinkcious.target": self._target,
        }
        start = time.perf_counter()
        with tracing.span(f"{method} {route}", SpanKind.CLIENT, attributes) as span:
            request.headers.update(tracing.inject({}))
            try:
                response = await self._inner.handle_async_request(request)
            except BaseException:  # no answer: timed out, refused, cancelled
                self._record(method, route, "error", start)
                raise
            self._record(method, route, str(response.status_code), start)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                tracing.mark_error(span, str(response.status_code))
            return response

    def _record(self, method: str, route: str, status: str, start: float) -> None:
        HTTP_CLIENT_REQUESTS.labels(self._target, method, route, status).inc()
        HTTP_CLIENT_DURATION.labels(self._target, method, route).observe(time.perf_counter() - start)

    async def aclose(self) -> None:
        await self._inner.aclose()


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
            transport=TelemetryTransport(
                transport or httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS), self.service
            ),
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
