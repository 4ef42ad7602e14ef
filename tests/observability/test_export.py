"""Spans leave the process over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT says
where, configured by the standard OTEL_* variables alone. Each case is a fresh Python
process (a process has one tracer provider) sending to a local OTLP receiver."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SCRIPT = """
from delinkcious.tracing import configure_tracing, span
provider = configure_tracing("link-manager")
with span("exported work"):
    pass
print(len(provider._active_span_processor._span_processors))  # how many ways out
provider.shutdown()  # flushes the batch before the process ends
"""


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str, ExportTraceServiceRequest]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.requests.append((self.path, request))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[tuple[str, str]]:
        """(service.name, span name) of everything received."""
        found = []
        for _, request in self.requests:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    found += [(attributes["service.name"], s.name) for s in scope_spans.spans]
        return found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _run(**env: str) -> int:
    """Runs the script; returns how many span processors (exporters) it had."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def test_spans_are_exported_to_the_configured_endpoint_as_the_service(receiver: Receiver) -> None:
    assert _run(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url) == 1
    assert receiver.spans() == [("link-manager", "exported work")]
    assert {path for path, _ in receiver.requests} == {"/v1/traces"}


def test_the_standard_variables_name_the_service_and_sample(receiver: Receiver) -> None:
    _run(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_SERVICE_NAME="links-canary")
    assert receiver.spans() == [("links-canary", "exported work")]
    _run(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_TRACES_SAMPLER="always_off")
    assert receiver.spans() == [("links-canary", "exported work")]  # nothing more


def test_nothing_leaves_the_process_without_an_endpoint(receiver: Receiver) -> None:
    assert _run() == 0
    assert _run(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_TRACES_EXPORTER="none") == 0
    assert receiver.requests == []
