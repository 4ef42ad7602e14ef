"""docs/telemetry.md and the code agree: every metric the code registers is listed with
its type and labels, and every metric listed exists."""

from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from tests.observability.telemetry_doc import SERVICES, DocumentedMetric, documented_metrics
from tests.project_modules import project_modules

UNIT_SUFFIXES = {"seconds": "_seconds"}


def registered_metrics() -> dict[str, MetricWrapperBase]:
    """Every metric the code defines: all modules of every package imported, then the
    registry read (the default process and Python collectors are not ours)."""
    for _module in project_modules():
        pass
    collectors = {c for c in REGISTRY._names_to_collectors.values() if isinstance(c, MetricWrapperBase)}
    return {c._name + ("_total" if c._type == "counter" else ""): c for c in collectors}


def test_every_registered_metric_is_documented_as_it_is() -> None:
    documented = documented_metrics()
    registered = registered_metrics()
    assert sorted(set(registered) - set(documented)) == [], "registered but not in docs/telemetry.md"
    for name, metric in registered.items():
        doc = documented[name]
        assert (doc.type, doc.labels) == (metric._type, tuple(metric._labelnames)), name


def test_every_documented_metric_exists() -> None:
    registered = registered_metrics()
    assert sorted(set(documented_metrics()) - set(registered)) == [], "documented but not in the code"


def test_the_table_is_well_formed() -> None:
    for name, doc in documented_metrics().items():
        _check(doc)
        assert name == doc.name


def _check(doc: DocumentedMetric) -> None:
    assert doc.type in ("counter", "gauge", "histogram"), doc
    assert doc.services and set(doc.services) <= set(SERVICES), doc
    assert doc.name.endswith("_total") == (doc.type == "counter"), f"{doc.name}: only counters end in _total"
    suffix = UNIT_SUFFIXES.get(doc.unit)
    if suffix is not None:
        assert doc.name.removesuffix("_total").endswith(suffix), f"{doc.name} should say its unit"
    if not doc.name.startswith(("http_", "grpc_")):
        assert doc.name.startswith("delinkcious_"), f"{doc.name}: domain metrics start with delinkcious_"
