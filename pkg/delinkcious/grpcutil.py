"""gRPC done once for every Delinkcious gRPC server and client: caller-token
authentication, domain errors as status codes (and back), request ids, server and
client spans (W3C trace context in the metadata), request metrics and logs, the
standard health service, and a graceful stop.

The caller token travels in the metadata key `delinkcious-caller-token` (the HTTP
header's name, lowercased as gRPC metadata keys must be). The health service needs
no token: the kubelet's gRPC probe cannot present one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry.trace import Span, SpanKind
from pydantic import SecretStr

from delinkcious import tracing
from delinkcious.callers import CALLER_TOKEN_HEADER, CallerAuthenticator
from delinkcious.errors import (
    AlreadyExists,
    DelinkciousError,
    Internal,
    InvalidArgument,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from delinkcious.metrics import (
    GRPC_CLIENT_DURATION,
    GRPC_CLIENT_REQUESTS,
    GRPC_SERVER_DURATION,
    GRPC_SERVER_REQUESTS,
)
from delinkcious.outages import unavailable_for

log = logging.getLogger("delinkcious.grpc")

CALLER_TOKEN_METADATA = CALLER_TOKEN_HEADER.lower()
HEALTH_SERVICE = "grpc.health.v1.Health"

# Re-exported under their first names.
GRPC_REQUESTS = GRPC_SERVER_REQUESTS
GRPC_DURATION = GRPC_SERVER_DURATION

# Most specific first: the first isinstance match wins.
_STATUS_BY_ERROR: tuple[tuple[type[DelinkciousError], grpc.StatusCode], ...] = (
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (LimitExceeded, grpc.StatusCode.FAILED_PRECONDITION),
    (RateLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)

_ERROR_BY_STATUS: dict[grpc.StatusCode, type[DelinkciousError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: LimitExceeded,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
}


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status a client sees for `exc`: a lost dependency (database, Redis, NATS)
    is UNAVAILABLE; anything else unexpected is INTERNAL, and says nothing of what went
    wrong inside."""
    if not isinstance(exc, DelinkciousError):
        exc = unavailable_for(exc) or exc
    if isinstance(exc, DelinkciousError):
        for cls, code in _STATUS_BY_ERROR:
            if isinstance(exc, cls):
                return code, exc.message
    return grpc.StatusCode.INTERNAL, "internal error"


def error_from_rpc(error: grpc.RpcError, service: str) -> DelinkciousError:
    """Client side: the domain error for a failed call to `service`."""
    code = error.code() if callable(getattr(error, "code", None)) else None
    details = (error.details() if callable(getattr(error, "details", None)) else None) or ""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        what = "timed out" if code == grpc.StatusCode.DEADLINE_EXCEEDED else "is unavailable"
        return Unavailable(f"{service} {what}")
    cls = _ERROR_BY_STATUS.get(code) if code is not None else None
    if cls is not None:
        return cls(details or f"{service} refused the call")
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS):
        # The callee's internals are not ours to pass on; only say who failed.
        return Unavailable(f"{service} failed ({code.name})")
    name = code.name if code is not None else "no status"
    return Internal(f"{service} answered {name}")


def _replace_behavior(
    handler: grpc.RpcMethodHandler,
    wrap: Callable[[Callable[..., Any], bool], Callable[..., Any]],
) -> grpc.RpcMethodHandler:
    """The same kind of handler with its behavior wrapped; `wrap` is told whether the
    behavior streams its responses (an async generator) or returns one."""
    if handler.unary_unary:
        make, behavior, streaming = grpc.unary_unary_rpc_method_handler, handler.unary_unary, False
    elif handler.unary_stream:
        make, behavior, streaming = grpc.unary_stream_rpc_method_handler, handler.unary_stream, True
    elif handler.stream_unary:
        make, behavior, streaming = grpc.stream_unary_rpc_method_handler, handler.stream_unary, False
    else:
        make, behavior, streaming = grpc.stream_stream_rpc_method_handler, handler.stream_stream, True
    return make(
        wrap(behavior, streaming),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


# Server-side codes that mean the server failed, not the caller (OpenTelemetry's rule).
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def _rpc_attributes(method: str) -> dict[str, str | int]:
    service, _, name = method.strip("/").rpartition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def _carrier(metadata: Any) -> dict[str, str]:
    return {str(k): v for k, v in (metadata or ()) if isinstance(v, str)}


@contextmanager
def _server_context(
    carrier: dict[str, str], method: str, service: str, traced: bool
) -> Iterator[Span | None]:
    """The caller's request id and trace continued; a server span unless untraced."""
    with tracing.continued(carrier):
        if not traced:
            yield None
            return
        attributes = {**_rpc_attributes(method), "delinkcious.service": service}
        with tracing.span(method.strip("/"), SpanKind.SERVER, attributes) as span:
            yield span


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Outermost: turns domain errors into status codes, hides unexpected ones behind
    INTERNAL, continues the caller's trace and request id (unary calls), and counts and
    logs every call with the code it ended with. Health checks are neither traced nor
    logged: probes make them every few seconds."""

    def __init__(self, service: str) -> None:
        self._service = service
        # Labelled metric children, looked up once: `labels()` takes a lock and builds
        # a key on every call.
        self._counters: dict[tuple[str, grpc.StatusCode], Any] = {}
        self._timers: dict[str, Any] = {}

    def _count(self, method: str, code: grpc.StatusCode, elapsed: float) -> None:
        counter = self._counters.get((method, code))
        if counter is None:
            counter = self._counters[(method, code)] = GRPC_REQUESTS.labels(self._service, method, code.name)
        timer = self._timers.get(method)
        if timer is None:
            timer = self._timers[method] = GRPC_DURATION.labels(self._service, method)
        counter.inc()
        timer.observe(elapsed)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return None
        method: str = details.method
        service = self._service
        is_health = method.startswith(f"/{HEALTH_SERVICE}/")
        carrier = _carrier(details.invocation_metadata)

        def finish(start: float, code: grpc.StatusCode, span: Span | None) -> None:
            elapsed = time.perf_counter() - start
            self._count(method, code, elapsed)
            if span is not None:
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code in _SERVER_FAULTS:
                    tracing.mark_error(span, code.name)
            if not is_health:
                log.info(
                    "rpc",
                    extra={"method": method, "code": code.name, "duration_ms": round(elapsed * 1000, 2)},
                )

        async def fail(context: grpc.aio.ServicerContext, exc: Exception) -> None:
            code, message = status_for(exc)
            if code == grpc.StatusCode.INTERNAL and not isinstance(exc, DelinkciousError):
                log.exception("unhandled error", extra={"method": method})
            elif code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
                reason = message if isinstance(exc, DelinkciousError) else f"{type(exc).__name__}: {exc}"
                log.warning("rpc failed", extra={"method": method, "code": code.name, "reason": reason[:300]})
            await context.abort(code, message)

        def aborted_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
            code = context.code()
            return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN

        def wrap(behavior: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
            if streaming and inspect.isasyncgenfunction(behavior):
                # Not traced: a span kept open across yields would be attached and
                # detached in whatever context resumes the generator.

                async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                    start, code = time.perf_counter(), grpc.StatusCode.OK
                    try:
                        async for response in behavior(request, context):
                            yield response
                    except grpc.aio.AbortError:
                        code = aborted_code(context)
                        raise
                    except asyncio.CancelledError:  # the client went away, or the server stops
                        code = grpc.StatusCode.CANCELLED
                        raise
                    except Exception as exc:
                        code = status_for(exc)[0]
                        await fail(context, exc)
                    finally:
                        finish(start, code, None)

                return stream

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with _server_context(carrier, method, service, traced=not is_health) as span:
                    start, code = time.perf_counter(), grpc.StatusCode.OK
                    try:
                        return await behavior(request, context)
                    except grpc.aio.AbortError:
                        code = aborted_code(context)
                        raise
                    except asyncio.CancelledError:  # the client went away, or the server stops
                        code = grpc.StatusCode.CANCELLED
                        raise
                    except Exception as exc:
                        code = status_for(exc)[0]
                        await fail(context, exc)
                    finally:
                        finish(start, code, span)

            return unary

        return _replace_behavior(handler, wrap)


class ClientTelemetry:
    """A client span, the trace context and request id in the metadata, and the call
    counted and timed, for every unary call of one method (retries inside the channel
    are part of the one call). Done around the call, not as a channel interceptor:
    grpc's intercepted-call machinery cost more client CPU than the call itself."""

    def __init__(self, target: str, method: str) -> None:
        self._target = target
        self._method = method
        self._name = method.strip("/")
        self._attributes = {**_rpc_attributes(method), "server.address": target}
        self._duration = GRPC_CLIENT_DURATION.labels(target, method)
        self._requests: dict[grpc.StatusCode, Any] = {}

    def _count(self, code: grpc.StatusCode) -> None:
        counter = self._requests.get(code)
        if counter is None:
            counter = self._requests[code] = GRPC_CLIENT_REQUESTS.labels(
                self._target, self._method, code.name
            )
        counter.inc()

    async def call(
        self,
        multicallable: grpc.aio.UnaryUnaryMultiCallable,
        request: Any,
        deadline: float | None,
        metadata: tuple[tuple[str, str], ...],
    ) -> Any:
        """`deadline`: seconds the call may take, grpc's own timeout."""
        start, code = time.perf_counter(), grpc.StatusCode.UNKNOWN
        with tracing.span(self._name, SpanKind.CLIENT, self._attributes) as span:
            sent = (*metadata, *tracing.inject({}).items())
            try:
                response = await multicallable(request, timeout=deadline, metadata=sent)
                code = grpc.StatusCode.OK
                return response
            except grpc.RpcError as exc:
                found = exc.code() if callable(getattr(exc, "code", None)) else None
                code = found if isinstance(found, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
                raise
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            finally:
                self._count(code)
                self._duration.observe(time.perf_counter() - start)
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code != grpc.StatusCode.OK:
                    tracing.mark_error(span, code.name)


class CallerAuthInterceptor(grpc.aio.ServerInterceptor):
    """Admits a call only with a known caller token (else UNAUTHENTICATED) from a caller
    the method lists (else PERMISSION_DENIED). A method not listed admits no caller:
    adding an RPC without deciding who may call it fails closed."""

    def __init__(
        self,
        tokens: Mapping[str, SecretStr],
        method_callers: Mapping[str, Collection[str]],
        exempt_services: Collection[str] = (HEALTH_SERVICE,),
    ) -> None:
        self._auth = CallerAuthenticator(dict(tokens))
        self._callers = {method: frozenset(names) for method, names in method_callers.items()}
        self._exempt = tuple(f"/{name}/" for name in exempt_services)

    def _check(self, details: grpc.HandlerCallDetails) -> str:
        presented = None
        for key, value in details.invocation_metadata or ():
            if key == CALLER_TOKEN_METADATA and isinstance(value, str):
                presented = value
        caller = self._auth.identify(presented)
        if caller not in self._callers.get(details.method, ()):
            raise PermissionDenied(f"{caller} may not call {details.method}")
        return caller

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if details.method.startswith(self._exempt):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:
            return None
        try:
            self._check(details)
        except DelinkciousError as exc:
            code, message = status_for(exc)

            def wrap(_behavior: Callable[..., Any], _streaming: bool) -> Callable[..., Any]:
                async def deny(_request: Any, context: grpc.aio.ServicerContext) -> None:
                    await context.abort(code, message)

                return deny

            return _replace_behavior(handler, wrap)
        return handler


async def add_health(server: grpc.aio.Server, *services: str) -> health.aio.HealthServicer:
    """The standard health service, NOT_SERVING (overall and for each named service)
    until `set_serving` says otherwise."""
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for name in ("", *services):
        await servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    return servicer


async def set_serving(servicer: health.aio.HealthServicer, *services: str) -> None:
    for name in ("", *services):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)


async def stop_gracefully(
    server: grpc.aio.Server, servicer: health.aio.HealthServicer, grace_seconds: float
) -> None:
    """Health says NOT_SERVING first (so load balancers and probes look elsewhere),
    then new calls are refused and calls in flight get `grace_seconds` to finish."""
    await servicer.enter_graceful_shutdown()
    await server.stop(grace_seconds)


def create_server(
    interceptors: list[grpc.aio.ServerInterceptor], max_message_bytes: int = 4 * 1024 * 1024
) -> grpc.aio.Server:
    return grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            # Reuse of a port another process holds would split traffic between them.
            ("grpc.so_reuseport", 0),
        ],
    )


def caller_metadata(caller_token: str) -> tuple[tuple[str, str], ...]:
    return ((CALLER_TOKEN_METADATA, caller_token),)
