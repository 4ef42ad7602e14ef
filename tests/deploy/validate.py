"""Validation of rendered objects: Kubernetes' own schemas for built-in kinds, the copied
CRD schemas (tests/deploy/schemas) for custom resources, and a hand check of Istio's
PeerAuthentication, for which no schema is available here."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate

from tests.deploy.chart import SCHEMAS, Obj, Rendered

CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrule_v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobject_v1alpha1.json",
    ("networking.istio.io/v1beta1", "VirtualService"): "networking.istio.io_virtualservice_v1beta1.json",
    ("networking.istio.io/v1beta1", "DestinationRule"): "networking.istio.io_destinationrule_v1beta1.json",
}
PEER_AUTHENTICATION = ("security.istio.io/v1beta1", "PeerAuthentication")
MTLS_MODES = {"UNSET", "DISABLE", "PERMISSIVE", "STRICT"}


@cache
def _crd_schema(file: str) -> str:
    return (SCHEMAS / file).read_text()


def crd_validator(api_version: str, kind: str) -> Any:
    schema = json.loads(_crd_schema(CRD_SCHEMAS[(api_version, kind)]))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def peer_authentication_problems(obj: Obj) -> list[str]:
    """Istio's PeerAuthentication has no schema here: its documented structure, checked by hand
    (security.istio.io/v1beta1: spec.selector.matchLabels, spec.mtls.mode, spec.portLevelMtls)."""
    problems = []
    if set(obj) - {"apiVersion", "kind", "metadata"} != {"spec"}:
        problems.append(f"top-level keys {sorted(obj)}")
    spec = obj.get("spec", {})
    if set(spec) - {"selector", "mtls", "portLevelMtls"}:
        problems.append(f"unknown spec keys {sorted(set(spec) - {'selector', 'mtls', 'portLevelMtls'})}")
    if "selector" in spec:
        selector = spec["selector"]
        labels = selector.get("matchLabels")
        if set(selector) != {"matchLabels"} or not isinstance(labels, dict) or not labels:
            problems.append(f"selector {selector}")
        elif not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            problems.append(f"selector labels {labels}")
    mtls = spec.get("mtls")
    if not isinstance(mtls, dict) or set(mtls) != {"mode"} or mtls["mode"] not in MTLS_MODES:
        problems.append(f"mtls {mtls}")
    for port, setting in (spec.get("portLevelMtls") or {}).items():
        if not str(port).isdigit() or setting.get("mode") not in MTLS_MODES:
            problems.append(f"portLevelMtls {port}: {setting}")
    return problems


def validation_failures(rendered: Rendered, kube: str) -> list[str]:
    failures = []
    for template, obj in rendered.objects:
        where = f"{template}: {obj['kind']} {obj['metadata']['name']}"
        key = (obj["apiVersion"], obj["kind"])
        try:
            if key in CRD_SCHEMAS:
                crd_validator(*key).validate(obj)
            elif key == PEER_AUTHENTICATION:
                failures += [f"{where}: {p}" for p in peer_authentication_problems(obj)]
            else:
                kubernetes_validate.validate(obj, kube, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            failures.append(f"{where}: no schema for {key} in Kubernetes {kube}")
        except jsonschema.ValidationError as exc:
            path = ".".join(str(p) for p in exc.absolute_path)
            failures.append(f"{where}: {path}: {exc.message}")
    return failures
