"""Cross-cutting HTTP concerns written once: each request's id, server span, metrics
and log line, and the operations endpoints every service serves (`/healthz`,
`/readyz`, `/metrics`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from delinkcious import tracing
from delinkcious.errors import DelinkciousError
from delinkcious.metrics import HTTP_SERVER_DURATION, HTTP_SERVER_REQUESTS, labelled
from delinkcious.outages import dependency_of

log = logging.getLogger("delinkcious.http")

# Re-exported under their first names.
HTTP_REQUESTS = HTTP_SERVER_REQUESTS
HTTP_DURATION = HTTP_SERVER_DURATION

ReadinessCheck = Callable[[], Awaitable[None]]
# Probes and scrapes: counted, but neither traced nor logged (they come every few seconds).
OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_requests_counted = labelled(HTTP_SERVER_REQUESTS)
_requests_timed = labelled(HTTP_SERVER_DURATION)


class Responder:
    """The `send` an app inside RequestTelemetryMiddleware gets: records the status,
    adds the request id, and awaits the `before_response` hooks before the response
    starts."""

    __slots__ = ("_hooks", "_request_id", "_send", "started", "status")

    def __init__(self, send: Send, request_id: str, hooks: Sequence[Callable[[], Awaitable[None]]]) -> None:
        self._send = send
        self._request_id = request_id
        self._hooks = hooks
        self.started = False
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            for hook in self._hooks:
                await hook()
            self.started = True
            self.status = message["status"]
            response_headers = MutableHeaders(scope=message)
            if tracing.REQUEST_ID_HEADER not in response_headers:
                response_headers.append(tracing.REQUEST_ID_HEADER, self._request_id)
        await self._send(message)


class RequestTelemetryMiddleware:
    """Outermost, pure ASGI (no BaseHTTPMiddleware, so streaming and cancellation
    behave). Accepts a well-formed incoming X-Request-ID or makes one, and returns it;
    continues the caller's trace (W3C traceparent) with a server span; counts and
    times the request by route template; logs one line with method, route, status,
    duration, the calling service and, at the gateway, the signed-in user.

    `before_response`: coroutines awaited before any response starts (a list the app
    may add to later). A subclass adds its own per-request work by overriding
    `handle`, inside the span and the timing, rather than as another middleware
    layer wrapping send and receive again."""

    def __init__(
        self, app: ASGIApp, service: str, before_response: Sequence[Callable[[], Awaitable[None]]] = ()
    ) -> None:
        self.app = app
        self.service = service
        self.before_response = before_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # ASGI header names are lowercase already.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with tracing.continued(headers):
            if scope["path"] in OPS_PATHS:
                await self._serve(scope, receive, send, None)
                return
            method = scope["method"]
            attributes: dict[str, str | int] = {
                "http.request.method": method,
                "url.path": scope["path"],  # never the query: it can hold an OAuth code
                "url.scheme": scope.get("scheme", "http"),
                "delinkcious.service": self.service,
            }
            with tracing.span(method, SpanKind.SERVER, attributes) as span:
                await self._serve(scope, receive, send, span)

    async def handle(self, scope: Scope, receive: Receive, send: Responder) -> None:
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, span: Any) -> None:
        start = time.perf_counter()
        request_id = tracing.current_request_id() or tracing.new_request_id()
        responder = Responder(send, request_id, self.before_response)
        try:
            await self.handle(scope, receive, responder)
        finally:
            elapsed = time.perf_counter() - start
            status = responder.status
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            _requests_counted(self.service, method, template, str(status)).inc()
            _requests_timed(self.service, method, template).observe(elapsed)
            if span is not None:
                span.update_name(f"{method} {template}")
                span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    tracing.mark_error(span, str(status))
                self._log(scope, method, template, status, elapsed)

    @staticmethod
    def _log(scope: Scope, method: str, template: str, status: int, elapsed: float) -> None:
        state: Any = scope.get("state", {})
        state = state if isinstance(state, dict) else {}
        fields: dict[str, Any] = {
            "method": method,
            "route": template,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "caller": state.get("caller"),
        }
        if state.get("username"):
            fields["user"] = state["username"]
        log.log(logging.WARNING if status >= 500 else logging.INFO, "request", extra=fields)


# The name it had before it also traced and logged.
RequestMetricsMiddleware = RequestTelemetryMiddleware


def counted_outcome(counter: Counter, **labels: str) -> Any:
    """A route dependency counting how the route ended, in `counter`'s `result` label:
    `success`, or the api.md error code the caller got (`internal` for a crash)."""

    async def count() -> AsyncIterator[None]:
        result = "internal"
        try:
            yield
            result = "success"
        except DelinkciousError as exc:
            result = exc.code
            raise
        except RequestValidationError:
            result = "invalid_argument"
            raise
        except Exception as exc:
            result = "unavailable" if dependency_of(exc) else "internal"
            raise
        finally:
            counter.labels(**labels, result=result).inc()

    return Depends(count)


# Each check gets this long; one that hangs (a database that accepts but never answers)
# fails the probe rather than holding it past the kubelet's own timeout.
READINESS_CHECK_SECONDS = 3.0

_READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Every dependency answered", "content": {"application/json": {}}},
    503: {"description": "A dependency failed; `failed` names it", "content": {"application/json": {}}},
}


def ops_router(checks: dict[str, ReadinessCheck], *, in_schema: bool = False) -> APIRouter:
    router = APIRouter(include_in_schema=in_schema, tags=["operations"])

    @router.get("/healthz", summary="Liveness: 200 while the process runs")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz", summary="Readiness: 200 when the service can do its job", responses=_READY_RESPONSES
    )
    async def readyz() -> Response:
        failed: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=READINESS_CHECK_SECONDS)
            except TimeoutError as exc:  # the wait's own timeout has no message
                failed[name] = (
                    f"TimeoutError: {exc}" if str(exc) else f"no answer within {READINESS_CHECK_SECONDS:g} s"
                )
            except Exception as exc:  # any failure means "not ready", with the reason
                failed[name] = f"{type(exc).__name__}: {exc}"[:300]
        if failed:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "failed": failed,
                    "error": {
                        "code": "unavailable",
                        "message": "dependencies not ready: " + ", ".join(failed),
                    },
                },
                status_code=503,
            )
        return JSONResponse({"status": "ok", "checked": sorted(checks)})

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
