"""One way to build a service's FastAPI app: errors in api.md's shape, a request
size limit, request metrics and logs, and the operations endpoints."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope

from delinkcious.callers import CallerAuthenticator
from delinkcious.errors import STATUS_CODES, DelinkciousError, PayloadTooLarge, RateLimited
from delinkcious.observability import ReadinessCheck, RequestTelemetryMiddleware, Responder, ops_router
from delinkcious.outages import unavailable_for
from delinkcious.settings import ServiceSettings

log = logging.getLogger("delinkcious.app")

MAX_BODY_BYTES = 1024 * 1024

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def from_app_state(name: str) -> Any:
    """A dependency on `app.state.<name>`, the object the lifespan made (a service).
    Async though it awaits nothing: FastAPI runs a plain function in its thread pool,
    a thread hop on every request for one attribute read."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    return Depends(dependency)


def error_response(exc: DelinkciousError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc)
        if err.get("type") == "json_invalid":
            return "request body is not valid JSON"
        if err.get("type") == "model_attributes_type" and not where:
            return "request body must be a JSON object (Content-Type: application/json)"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DelinkciousError)
    async def _domain(_: Request, exc: DelinkciousError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("request failed", extra={"code": exc.code, "reason": exc.message})
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        body = {"error": {"code": "invalid_argument", "message": _describe_validation(exc)}}
        return JSONResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "invalid_argument")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # The router names only the first route it matched; a path served by
            # several routes (GET and POST /v1/links) allows all of their methods.
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(
            {"error": {"code": code, "message": message}}, status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse({"error": {"code": "internal", "message": "internal error"}}, status_code=500)


def _allowed_methods(request: Request) -> list[str]:
    """Asks the router, method by method, which would fully match this path."""
    allowed = []
    for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


class ServiceMiddleware(RequestTelemetryMiddleware):
    """The one middleware of every service's app, as one layer (each layer wraps send
    and receive again, on every request): the request's telemetry (see
    RequestTelemetryMiddleware), and inside it, so its metrics and log line carry the
    status the caller got:

    - bodies over the limit refused with 413, whether or not Content-Length is honest;
      `larger` raises the limit for the paths matching a pattern (a bulk import);
    - an error that escaped every handler and reports a lost dependency (database,
      Redis, NATS) answered with 503. Any other error passes on, to become a 500 like
      any other bug."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        max_bytes: int = MAX_BODY_BYTES,
        larger: Mapping[str, int] | None = None,
        before_response: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        super().__init__(app, service, before_response)
        self.max_bytes = max_bytes
        self.larger = [(re.compile(pattern), limit) for pattern, limit in (larger or {}).items()]

    def _limit(self, path: str) -> int:
        return next((limit for pattern, limit in self.larger if pattern.fullmatch(path)), self.max_bytes)

    async def handle(self, scope: Scope, receive: Receive, send: Responder) -> None:
        max_bytes = self._limit(scope.get("path", ""))
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await error_response(_too_large(max_bytes))(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # FastAPI turns other errors raised while reading a body into a 400;
                    # an HTTPException passes through and renders as payload_too_large.
                    raise StarletteHTTPException(413, _too_large(max_bytes).message)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except Exception as exc:
            unavailable = unavailable_for(exc)
            if unavailable is None or send.started:
                raise
            log.warning(
                "dependency unavailable",
                extra={"code": unavailable.code, "reason": f"{type(exc).__name__}: {exc}"[:300]},
            )
            await error_response(unavailable)(scope, receive, send)


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {_size(max_bytes)}")


def _size(n: int) -> str:
    mib = 1024 * 1024
    return f"{n // mib} MiB ({n} bytes)" if n % mib == 0 else f"{n} bytes"


NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    title: str,
    settings: ServiceSettings,
    lifespan: Lifespan,
    routers: list[APIRouter],
    readiness: Callable[[FastAPI], dict[str, ReadinessCheck]],
    description: str = "",
    public: bool = False,
    larger_bodies: Mapping[str, int] | None = None,
) -> FastAPI:
    """`readiness` is called once the lifespan has opened the connections it checks.
    A `public` app (the gateway) documents its own errors and its operations routes;
    internal apps share the caller-token error responses. `larger_bodies` maps path
    patterns to a body limit above the usual MAX_BODY_BYTES."""

    async def _app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            app.state.readiness_checks.update(readiness(app))
            yield

    from contextlib import asynccontextmanager

    app = FastAPI(
        # FastAPI's own OpenTelemetry would add a second server span (and its metrics
        # and log work) to every request; RequestTelemetryMiddleware already makes
        # the span, metrics and log line, with our route templates and attributes.
        telemetry=NO_NATIVE_TELEMETRY,
        title=title,
        description=description,
        version="1.0.0",
        lifespan=asynccontextmanager(_app_lifespan),
        responses={}
        if public
        else {
            400: {
                "description": "Invalid argument",
                "content": {"application/json": {"schema": ERROR_SCHEMA}},
            },
            401: {
                "description": "Unknown or missing caller",
                "content": {"application/json": {"schema": ERROR_SCHEMA}},
            },
        },
    )
    app.state.settings = settings
    app.state.caller_auth = CallerAuthenticator(settings.caller_tokens)
    app.state.readiness_checks = {}
    install_error_handlers(app)
    app.include_router(ops_router(app.state.readiness_checks, in_schema=public))
    for router in routers:
        app.include_router(router)
    # Awaited before any response starts; the gateway adds its revocations' publishing.
    app.state.before_response = []
    app.add_middleware(
        ServiceMiddleware,
        service=settings.service_name,
        larger=larger_bodies,
        before_response=app.state.before_response,
    )
    return app
