"""One running system for the package, with every span kept in memory and every log
line captured as the services write it (JSON, through the production handler)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from delinkcious.logging import json_handler
from delinkcious.tracing import LibrarySpansInTraces, configure_tracing
from tests.observability.system import System, running_system
from tests.servers import NatsServer


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    log: io.StringIO

    def finished(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.spans.get_finished_spans())

    def log_mark(self) -> int:
        return len(self.log.getvalue())

    def log_lines(self, since: int = 0) -> list[str]:
        return [line for line in self.log.getvalue()[since:].splitlines() if line.strip()]

    def log_records(self, since: int = 0) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_lines(since)]


@pytest.fixture(scope="package")
def telemetry() -> Iterator[Telemetry]:
    # The process's provider, exactly as a service sets it up, plus an exporter we read.
    provider = configure_tracing("observability-tests")
    exporter = InMemorySpanExporter()
    provider.add_span_processor(LibrarySpansInTraces(SimpleSpanProcessor(exporter)))
    stream = io.StringIO()
    handler = json_handler("observability-tests", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield Telemetry(exporter, stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        exporter.shutdown()  # the provider outlives this package; the exporter stops keeping spans


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def system(
    telemetry: Telemetry, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    nats = NatsServer()
    nats.start()
    try:
        async with running_system(tmp_path_factory.mktemp("observability"), nats.url, redis_url) as running:
            yield running
    finally:
        nats.close()
