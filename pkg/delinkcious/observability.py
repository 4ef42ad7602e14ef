"""Cross-cutting HTTP concerns written once: request metrics and logs, and the
operations endpoints every service serves (`/healthz`, `/readyz`, `/metrics`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("delinkcious.http")

HTTP_REQUESTS = Counter(
    "http_server_requests_total",
    "HTTP requests served, by route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Time to serve an HTTP request, by route template.",
    ["service", "method", "route"],
)

ReadinessCheck = Callable[[], Awaitable[None]]
OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestMetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so streaming and cancellation behave."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_DURATION.labels(self.service, method, template).observe(elapsed)
            if scope["path"] not in OPS_PATHS:
                state: Any = scope.get("state", {})
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "caller": state.get("caller") if isinstance(state, dict) else None,
                    },
                )


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
                await asyncio.wait_for(check(), timeout=3)
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
