"""The chart renders under every value set, `helm lint --strict` is clean, and every object is
valid: built-in kinds against Kubernetes' schemas (kubernetes-validate, strict: unknown fields
fail) for the oldest and newest supported Kubernetes, custom resources against their CRD
schemas."""

from __future__ import annotations

import json
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    DELIVERY_SETS,
    KUBE_VERSIONS,
    NAMESPACE,
    VALUE_SETS,
    load_values,
    render,
    render_set,
)
from tests.deploy.validate import crd_validator, validation_failures


def test_chart_metadata() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2"
    assert meta["kubeVersion"] == ">=1.29.0-0"
    assert meta["appVersion"] and meta["version"]


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("value_set", VALUE_SETS + DELIVERY_SETS)
def test_helm_lint_strict_is_clean(value_set: str, kube: str) -> None:
    report = helm.lint(
        CHART, load_values(value_set), strict=True, namespace=NAMESPACE, kube_version=f"v{kube}.0"
    )
    # Severity 1 is information ("icon is recommended"); warnings and errors fail --strict.
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], (problems, report["errors"])


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("value_set", VALUE_SETS + DELIVERY_SETS)
def test_every_object_is_valid(value_set: str, kube: str) -> None:
    rendered = render_set(value_set)
    assert rendered.objects
    failures = validation_failures(rendered, kube)
    assert not failures, "\n".join(failures)


def test_crd_schemas_reject_unknown_fields() -> None:
    # The copied schemas are strict, so the check above is worth something.
    monitor = render_set("all-features").get("ServiceMonitor", "delinkcious")
    broken = json.loads(json.dumps(monitor))
    broken["spec"]["endpoints"][0]["scrapeEvery"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        crd_validator(monitor["apiVersion"], "ServiceMonitor").validate(broken)


def test_optional_features_render_their_objects() -> None:
    rendered = render_set("all-features")
    for kind, name in [
        ("Ingress", "api-gateway"),
        ("ServiceMonitor", "delinkcious"),
        ("PrometheusRule", "delinkcious"),
        ("ScaledObject", "link-checker"),
        ("Pod", "delinkcious-smoke-test"),
    ]:
        assert rendered.has(kind, name), (kind, name)
    defaults = render_set("defaults")
    for kind in ("Ingress", "ServiceMonitor", "PrometheusRule", "ScaledObject"):
        assert not defaults.of_kind(kind), kind


def test_keda_replaces_link_checkers_autoscaler() -> None:
    rendered = render_set("all-features")
    assert not rendered.has("HorizontalPodAutoscaler", "link-checker")
    assert rendered.has("HorizontalPodAutoscaler", "link-manager") is False  # autoscaling off there
    deployment = rendered.get("Deployment", "link-checker")
    assert "replicas" not in deployment["spec"], "KEDA owns link-checker's replica count"
    trigger = rendered.get("ScaledObject", "link-checker")["spec"]["triggers"][0]
    assert trigger["type"] == "nats-jetstream"
    meta = trigger["metadata"]
    assert meta["stream"] == "LINKS" and meta["consumer"] == "link-checker-new-links"
    assert meta["account"] == "$G"
    assert meta["natsServerMonitoringEndpoint"] == f"nats.{NAMESPACE}.svc.cluster.local:8222"
    nats = rendered.get("Service", "nats")
    assert {p["name"]: p["port"] for p in nats["spec"]["ports"]}["monitor"] == 8222


def test_keda_consumer_is_the_one_link_checker_uses() -> None:
    from link_checker.consumers import NEW_LINKS

    meta = render_set("all-features").get("ScaledObject", "link-checker")["spec"]["triggers"][0]["metadata"]
    assert (meta["stream"], meta["consumer"]) == (NEW_LINKS.stream, NEW_LINKS.durable)


def test_helm_test_hook_is_a_test_pod_of_the_gateway_image() -> None:
    pod = render_set("defaults").get("Pod", "delinkcious-smoke-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [container] = pod["spec"]["containers"]
    assert container["image"] == "docker.io/delinkcious/api-gateway:0.1.0"
    assert container["command"][:2] == ["python", "-c"]
    assert not render_set("k8s").of_kind("Pod"), "k8s/ has no Helm test pod"


def test_notes_say_how_to_reach_the_gateway() -> None:
    notes = render_set("defaults").notes
    assert f"kubectl -n {NAMESPACE} port-forward service/api-gateway 5000:5000" in notes
    assert "curl -i http://127.0.0.1:5000/readyz" in notes
    with_ingress = render_set("all-features").notes
    assert "curl -i https://bookmarks.example.com/readyz" in with_ingress


# --- the values schema catches mistakes ---------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 3}, "replicaCount"),
        ({"services": {"link-manager": {"replcas": 3}}}, "replcas"),
        ({"serviceDefaults": {"resource": {}}}, "resource"),
        ({"postgres": {"enabeld": False}}, "enabeld"),
        ({"services": {"api-gateway": {"env": {"DEV_LOGIN": "true"}}}}, "DEV_LOGIN"),
        ({"services": {"link-checker": {"env": {"LINK_CHECKER_ALLOW_PRIVATE_NETWORKS": True}}}}, "PRIVATE"),
        ({"services": {"news-manager": {"protocol": "thrift"}}}, "protocol"),
        ({"services": {"link-manager": {"port": 70000}}}, "port"),
        ({"global": {"logLevel": "VERBOSE"}}, "logLevel"),
        ({"nats": {"replicas": 2}}, "replicas"),
        ({"secrets": {"length": 8}}, "length"),
    ],
)
def test_schema_rejects(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError) as caught:
        render(values)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"services": {"link-manager": {"env": {"NATS_URL": "nats://nats:4222"}}}},
            "NATS_URL is set by the chart",
        ),
        ({"services": {"user-manager": {"env": {"USER_MANAGER_DATABASE_URL": "x"}}}}, "set by the chart"),
        ({"services": {"api-gateway": {"calls": ["bookmark-manager"]}}}, "bookmark-manager"),
        ({"postgres": {"enabled": False}, "secrets": {"existingSecret": "s"}}, "postgres.external.host"),
        ({"nats": {"enabled": False}, "secrets": {"existingSecret": "s"}}, "nats.external.url"),
        ({"login": {"github": {"clientId": "abc"}}}, "login.github.clientSecret.name"),
    ],
)
def test_templates_refuse_inconsistent_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError) as caught:
        render(values)
    assert message in str(caught.value)
