"""Labelled metric children kept after their first lookup still count in the registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from delinkcious.metrics import labelled


def test_a_kept_child_is_the_metric_s_own_and_counts() -> None:
    registry = CollectorRegistry()
    counter = Counter("labelled_test_total", "test", ["route", "status"], registry=registry)
    child = labelled(counter)
    for _ in range(3):
        child("/v1/links", "200").inc()
    child("/v1/links", "404").inc()
    assert child("/v1/links", "200") is counter.labels("/v1/links", "200")
    assert registry.get_sample_value("labelled_test_total", {"route": "/v1/links", "status": "200"}) == 3
    assert registry.get_sample_value("labelled_test_total", {"route": "/v1/links", "status": "404"}) == 1
