"""What follows one request across services: its W3C trace context and its request id.

`configure_tracing` sets up OpenTelemetry once per process, only from the standard
OTEL_* variables: spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT
(or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, and otherwise only live long enough
to give log lines and outgoing calls their trace ids. The SDK itself reads
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*,
OTEL_PROPAGATORS and OTEL_SDK_DISABLED.

Carriers are plain `dict[str, str]`: HTTP headers, gRPC metadata, NATS headers and the
outbox row's `trace_context` all use the same keys (`traceparent`, `tracestate`,
`baggage`, `x-request-id`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

log = logging.getLogger("delinkcious.tracing")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = REQUEST_ID_HEADER.lower()  # the form gRPC metadata and our carriers use
# Accepted from outside only if it cannot corrupt a log line or a header: proxies and
# meshes send UUIDs or similar tokens.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}")
# Keys worth keeping when a context is stored for later (the outbox).
_CARRIED = ("traceparent", "tracestate", "baggage", REQUEST_ID_KEY)
_MAX_STORED_CONTEXT = 2048

_request_id: ContextVar[str | None] = ContextVar("delinkcious_request_id", default=None)
_configured_lock = threading.Lock()
_instrumented = False

# A proxy: it resolves to whichever provider is installed when a span starts.
tracer = trace.get_tracer("delinkcious")


# ---------------------------------------------------------------------- setup


def configure_tracing(service_name: str) -> TracerProvider:
    """Installs the process's tracer provider (once; later calls return it) and the
    SQL and Redis instrumentation. Call before creating Redis clients."""
    global _instrumented
    with _configured_lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            provider = current
        else:
            provider = TracerProvider(resource=_resource(service_name))
            exporter = _otlp_exporter()
            if exporter is not None:
                provider.add_span_processor(LibrarySpansInTraces(BatchSpanProcessor(exporter)))
            trace.set_tracer_provider(provider)
        if not _instrumented:
            _instrument_libraries()
            _instrumented = True
    return provider


def _resource(service_name: str) -> Resource:
    """OTEL_SERVICE_NAME or a service.name in OTEL_RESOURCE_ATTRIBUTES wins; the
    service's own name is only the default."""
    detected = Resource.create()
    name = str(detected.attributes.get(SERVICE_NAME, ""))
    if name and not name.startswith("unknown_service"):
        return detected
    return detected.merge(Resource({SERVICE_NAME: service_name}))


def _otlp_exporter() -> SpanExporter | None:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not endpoint or os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return None
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    )
    if protocol.strip() != "http/protobuf":
        log.warning("only OTLP over http/protobuf is supported; exporting with it", extra={"asked": protocol})
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout and compression from OTEL_*


class LibrarySpansInTraces(SpanProcessor):
    """Passes on an instrumentation library's span (a Redis command) only as part of a
    trace: readiness probes would otherwise export a one-span trace for every ping.
    (Our own SQL spans are only made inside a trace in the first place.)"""

    def __init__(self, inner: SpanProcessor) -> None:
        self._inner = inner

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        self._inner.on_start(span, parent_context)  # type: ignore[arg-type]

    def on_end(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope
        from_library = scope is not None and scope.name.startswith("opentelemetry.instrumentation")
        if from_library and span.parent is None:
            return
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _instrument_libraries() -> None:
    # Redis commands are traced in the processes that use Redis. The instrumentation
    # imports the client library (some 20 MB resident), so it is installed once
    # `redis` is imported (at once if it already is), not in every service.
    import wrapt

    wrapt.register_post_import_hook(_instrument_redis, "redis")
    _instrument_sqlalchemy()


def _instrument_redis(_module: object) -> None:
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # Global: clients created from now on are traced.
    RedisInstrumentor().instrument()


# ---------------------------------------------------------------------- SQL spans

_SQL_SPAN = "_delinkcious_span"


def _instrument_sqlalchemy() -> None:
    """A client span per statement, on every engine. Written here with SQLAlchemy's
    own events rather than the contrib package, which lags SQLAlchemy's releases."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "before_cursor_execute", _sql_started)
    event.listen(Engine, "after_cursor_execute", _sql_finished)
    event.listen(Engine, "handle_error", _sql_failed)


def _sql_started(
    conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _executemany: bool
) -> None:
    # Only as part of a trace: polling loops and probes would each make a trace of one.
    if context is None or not trace.get_current_span().get_span_context().is_valid:
        return
    operation = statement.split(None, 1)[0].upper() if statement.strip() else "SQL"
    attributes = {
        "db.system.name": conn.dialect.name,
        "db.operation.name": operation,
        "db.query.text": statement[:2000],  # placeholders only: values are never recorded
    }
    setattr(context, _SQL_SPAN, tracer.start_span(operation, kind=SpanKind.CLIENT, attributes=attributes))


def _sql_finished(
    _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _executemany: bool
) -> None:
    current: Span | None = getattr(context, _SQL_SPAN, None)
    if current is not None:
        current.end()
        setattr(context, _SQL_SPAN, None)


def _sql_failed(exception_context: Any) -> None:
    context = exception_context.execution_context
    current: Span | None = getattr(context, _SQL_SPAN, None) if context is not None else None
    if current is not None:
        error = exception_context.original_exception
        current.record_exception(error)
        current.set_status(Status(StatusCode.ERROR, type(error).__name__))
        current.end()
        setattr(context, _SQL_SPAN, None)


# ---------------------------------------------------------------------- request ids


def new_request_id() -> str:
    return str(uuid.uuid4())


def accept_request_id(presented: str | None) -> str:
    """The caller's id if it is well formed, else a new one."""
    if presented and _REQUEST_ID.fullmatch(presented):
        return presented
    return new_request_id()


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def request_id_bound(request_id: str | None) -> Iterator[None]:
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


# ---------------------------------------------------------------------- propagation


def inject(carrier: dict[str, str]) -> dict[str, str]:
    """Adds the current trace context and request id to `carrier` (and returns it)."""
    propagate.inject(carrier)
    request_id = _request_id.get()
    if request_id:
        carrier[REQUEST_ID_KEY] = request_id
    return carrier


def _lowered(carrier: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (carrier or {}).items() if isinstance(v, str)}


@contextmanager
def continued(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Makes the context a carrier holds current: its trace as the parent of spans
    started inside, and its request id (or a new one) for log lines."""
    lowered = _lowered(carrier)
    token = otel_context.attach(propagate.extract(lowered))
    try:
        with request_id_bound(accept_request_id(lowered.get(REQUEST_ID_KEY))):
            yield
    finally:
        otel_context.detach(token)


def capture() -> str | None:
    """The current context as a string to store beside work done later (an outbox row),
    or None outside any trace."""
    carrier = {k: v for k, v in inject({}).items() if k in _CARRIED}
    if "traceparent" not in carrier:
        return None
    stored = json.dumps(carrier, separators=(",", ":"))
    return stored if len(stored) <= _MAX_STORED_CONTEXT else None


def restore(stored: str | None) -> dict[str, str]:
    """A carrier from `capture`'s string; empty when there is none or it is damaged."""
    if not stored:
        return {}
    try:
        value = json.loads(stored)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k in _CARRIED and isinstance(v, str)}


# ---------------------------------------------------------------------- spans


class _SpanScope:
    """What `span` returns: the SDK's `start_as_current_span` with the same behaviour
    (current while inside; an escaping Exception recorded, the status set to ERROR,
    and re-raised; ended on exit) in one plain object, instead of the three nested
    generator context managers the SDK stacks for it, which cost as much as the span."""

    __slots__ = ("_span", "_token")

    def __init__(self, name: str, kind: SpanKind, attributes: Mapping[str, str | int] | None) -> None:
        # The SDK copies (and checks) the attributes into the span: no copy of our own.
        self._span = tracer.start_span(name, kind=kind, attributes=attributes)
        self._token: object = None

    def __enter__(self) -> Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._span

    def __exit__(self, _type: type[BaseException] | None, exc: BaseException | None, _tb: Any) -> None:
        current = self._span
        try:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            # Only Exception: GeneratorExit and cancellation are not errors (as in the SDK).
            if isinstance(exc, Exception) and current.is_recording():
                current.record_exception(exc)
                current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        finally:
            current.end()


def span(
    name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, str | int] | None = None
) -> _SpanScope:
    """A span, current inside the `with`, that records an escaping exception as an
    error and re-raises it."""
    return _SpanScope(name, kind, attributes)


def mark_error(current: Span, description: str) -> None:
    current.set_status(Status(StatusCode.ERROR, description))


def log_ids() -> dict[str, str]:
    """trace_id and span_id of the current span, for log lines; empty outside one."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}
