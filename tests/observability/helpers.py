"""Looking at what the system left behind: spans by trace, parent chains, metric samples."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def eventually(probe: Callable[[], Any], within: float = 20.0) -> Any:
    """Polls `probe` (sync or async) until it returns something truthy, and returns it."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {within} s")
        await asyncio.sleep(0.05)


def service_of(span: ReadableSpan) -> str | None:
    value = (span.attributes or {}).get("delinkcious.service")
    return str(value) if value is not None else None


def in_trace(spans: Iterable[ReadableSpan], trace_id: int) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans if s.context is not None and s.context.trace_id == trace_id}


def chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """The span and its ancestors, nearest first, as far as this trace's spans go."""
    found = [span]
    while found[-1].parent is not None:
        parent = by_id.get(found[-1].parent.span_id)
        if parent is None:
            break
        found.append(parent)
    return found


def find(
    spans: Iterable[ReadableSpan], kind: SpanKind, service: str | None = None, name: str | None = None
) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.kind == kind
        and (service is None or service_of(s) == service)
        and (name is None or s.name == name)
    ]


def from_library(span: ReadableSpan, library: str) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name == f"opentelemetry.instrumentation.{library}"


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> tuple[Samples, dict[str, str]]:
    """Every sample on a /metrics page by (name, sorted labels), and each family's type."""
    async with httpx.AsyncClient(timeout=10) as c:
        response = await c.get(f"{url}/metrics")
    assert response.status_code == 200, response.text
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, types


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))
