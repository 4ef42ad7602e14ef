"""Rendering the Helm chart with Helm's own engine (helm-python-sdk), and reading the result.

Every test of the chart goes through `render`: the same templates, values files and release
name a `helm install delinkcious helm/delinkcious -n delinkcious -f <file>` would use.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "delinkcious"
K8S = ROOT / "k8s"
VALUES = Path(__file__).parent / "values"
SCHEMAS = Path(__file__).parent / "schemas"
RELEASE = "delinkcious"
NAMESPACE = "delinkcious"

# The value sets every render check runs under (files in tests/deploy/values/).
VALUE_SETS = ("defaults", "external", "high-availability", "all-features", "k8s")
# Value sets of the delivery and observability features; the generic lint and validity
# checks run over them too, their own tests over what each set is for.
DELIVERY_SETS = ("bluegreen", "canary", "canary-istio", "mesh", "observability")
KUBE_VERSIONS = ("1.29", "1.33")

Obj = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """One render: the objects (with the template each came from) and NOTES.txt."""

    objects: tuple[tuple[str, Obj], ...]
    notes: str

    def all(self) -> list[Obj]:
        return [o for _, o in self.objects]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.all() if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Obj:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def has(self, kind: str, name: str) -> bool:
        return any(o["metadata"]["name"] == name for o in self.of_kind(kind))

    def secret_data(self) -> dict[str, str]:
        """The chart's Secret, decoded (empty when the chart uses an existing Secret)."""
        secrets = self.of_kind("Secret")
        if not secrets:
            return {}
        [secret] = secrets
        return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}

    def workloads(self) -> list[Obj]:
        return [o for o in self.all() if o["kind"] in ("Deployment", "StatefulSet")]


def load_values(name: str) -> dict[str, Any]:
    data = yaml.safe_load((VALUES / f"{name}.yaml").read_text())
    return data or {}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of two values maps: maps merge, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def render_manifests(values: dict[str, Any]) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` produces."""
    with helm.Chart.load(CHART) as chart:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def parse(manifests: dict[str, str]) -> Rendered:
    objects: list[tuple[str, Obj]] = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.append((path, doc))
    return Rendered(tuple(objects), notes)


def render(values: dict[str, Any] | None = None) -> Rendered:
    return parse(render_manifests(values or {}))


@functools.cache
def _cached(name: str) -> str:
    return json.dumps(render_manifests(load_values(name)))


def render_set(name: str) -> Rendered:
    """A named value set's render, done once per test session (the Secret's random values
    are therefore the same within one session's checks of that set)."""
    return parse(json.loads(_cached(name)))


def chart_values() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return data


def pod_spec(workload: Obj) -> Obj:
    if workload["kind"] == "Pod":
        spec: Obj = workload["spec"]
        return spec
    template: Obj = workload["spec"]["template"]["spec"]
    return template


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = (
        workload["metadata"]["labels"]
        if workload["kind"] == "Pod"
        else workload["spec"]["template"]["metadata"]["labels"]
    )
    return labels


def containers(workload: Obj, *, init: bool = True) -> Iterator[Obj]:
    spec = pod_spec(workload)
    if init:
        yield from spec.get("initContainers", [])
    yield from spec["containers"]


def main_container(workload: Obj) -> Obj:
    [container] = [c for c in pod_spec(workload)["containers"] if c["name"] == workload["metadata"]["name"]]
    return container
