"""No secret has a committed value: the chart's Secret gets random values (or ones given at
install time, or the ones already in the cluster), an existing Secret can replace it, and no
rendered object carries a literal credential."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import helm_python as helm
import pytest
import yaml

from tests.deploy.chart import CHART, K8S, VALUE_SETS, VALUES, containers, render, render_set
from tests.deploy.contract import DATABASE_SERVICES, SERVICES
from tests.deploy.fit import secret_refs

SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN|TOKENS|KEY|AUTH)$")
ONLY_REFERENCES = re.compile(r'^(\{("[a-z-]+":"\$\([A-Z_]+\)",?)*\}|\$\([A-Z_]+\))$')

EXPECTED_KEYS = (
    {
        f"caller-token-{c}"
        for c in ("api-gateway", "link-checker", "link-manager", "news-manager", "social-graph-manager")
    }
    | {f"page-token-key-{s}" for s in ("link-manager", "social-graph-manager", "news-manager")}
    | {f"db-password-{s}" for s in DATABASE_SERVICES}
    | {"session-secret", "postgres-password", "redis-password", "nats-password"}
    | {"redis-password-api-gateway"}
)


def test_the_secret_holds_every_key_with_a_fresh_random_value() -> None:
    first, second = render().secret_data(), render().secret_data()
    assert set(first) == EXPECTED_KEYS
    for key, value in first.items():
        assert re.fullmatch(r"[A-Za-z0-9]{48}", value), key  # letters and digits: safe in URLs
        assert value != second[key], f"{key} is the same in two renders: not random"
    assert len(set(first.values())) == len(first)


def test_every_key_the_pods_read_is_in_the_secret() -> None:
    rendered = render_set("defaults")
    [(name, keys)] = secret_refs(rendered).items()
    assert name == "delinkcious-secrets"
    assert keys == set(rendered.secret_data())


def test_the_secret_outlives_uninstall_and_reuses_the_clusters_values() -> None:
    secret = render_set("defaults").get("Secret", "delinkcious-secrets")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # `lookup` reads the Secret of the cluster on install and upgrade; offline it finds
    # nothing, which the random values above show. Its use is checked in the template.
    template = (CHART / "templates" / "secret.yaml").read_text()
    assert 'lookup "v1" "Secret" .Release.Namespace $name' in template
    assert "hasKey $current $key" in template


def test_values_given_at_install_are_used() -> None:
    given = {"redis-password": "r" * 20, "caller-token-api-gateway": "g" * 16}
    data = render({"secrets": {"values": given}}).secret_data()
    assert {k: data[k] for k in given} == given


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("caller-token-api-gateway", "short"),
        ("page-token-key-news-manager", "x" * 15),
        ("session-secret", "s" * 31),
    ],
)
def test_too_short_secrets_are_refused(key: str, value: str) -> None:
    with pytest.raises(helm.HelmError, match=key):
        render({"secrets": {"values": {key: value}}})


def test_an_external_servers_password_cannot_be_made_up() -> None:
    with pytest.raises(helm.HelmError, match=r"secrets\.values\.redis-password is required"):
        render({"redis": {"enabled": False, "external": {"url": "redis://cache:6379/0"}}})
    external = {"enabled": False, "external": {"url": "redis://cache:6379/0"}}
    with pytest.raises(helm.HelmError, match=r"secrets\.values\.redis-password-api-gateway is required"):
        render({"redis": external, "secrets": {"values": {"redis-password": "from-the-operator"}}})
    given = {"redis-password": "from-the-operator", "redis-password-api-gateway": "the-gateways-own"}
    data = render({"redis": external, "secrets": {"values": given}}).secret_data()
    assert data["redis-password"] == "from-the-operator"
    assert data["redis-password-api-gateway"] == "the-gateways-own"


@pytest.mark.parametrize("value_set", ["external", "k8s"])
def test_an_existing_secret_replaces_the_chart_secret(value_set: str) -> None:
    rendered = render_set(value_set)
    assert not rendered.of_kind("Secret")
    [name] = secret_refs(rendered)
    assert name == yaml.safe_load((VALUES / f"{value_set}.yaml").read_text())["secrets"]["existingSecret"]
    for deployment in rendered.of_kind("Deployment"):
        assert "checksum/secret" not in deployment["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_no_rendered_object_carries_a_literal_credential(value_set: str) -> None:
    rendered = render_set(value_set)
    for cm in rendered.of_kind("ConfigMap"):
        for key, value in cm.get("data", {}).items():
            assert not SECRETISH.search(key), f"ConfigMap {cm['metadata']['name']}: {key}"
            for word in re.findall(r"(?:password|requirepass)(?:\s*[:=]\s*|\s+)(\S+)", value):
                assert word.strip("\"'").startswith("$"), (
                    f"ConfigMap {cm['metadata']['name']}: {key} has a password"
                )
    for workload in rendered.workloads() + rendered.of_kind("Pod"):
        for container in containers(workload):
            for item in container.get("env", []):
                if "value" not in item:
                    continue
                name, value = item["name"], str(item["value"])
                if SECRETISH.search(name):
                    assert ONLY_REFERENCES.match(value), f"{name}={value!r} is a literal secret"
                parts = urlsplit(value) if "://" in value else None
                if parts and parts.password is not None:
                    assert re.fullmatch(r"\$\([A-Z_]+\)", parts.password), f"{name}: literal password in URL"


def test_no_committed_file_sets_a_secret_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["secrets"]["values"] == {}
    for path in VALUES.glob("*.yaml"):
        assert "values" not in ((yaml.safe_load(path.read_text()) or {}).get("secrets") or {}), path.name
    for path in K8S.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert not doc or doc.get("kind") != "Secret", path.name


def test_secrets_are_read_only_by_the_pods_that_need_them() -> None:
    rendered = render_set("defaults")
    wanted = {
        "api-gateway": {"caller-token-api-gateway", "session-secret", "redis-password-api-gateway"},
        "link-manager": {
            "caller-token-link-manager",
            "caller-token-api-gateway",
            "caller-token-link-checker",
            "page-token-key-link-manager",
            "db-password-link-manager",
            "nats-password",
        },
        "user-manager": {
            "caller-token-api-gateway",
            "caller-token-social-graph-manager",
            "db-password-user-manager",
        },
        "social-graph-manager": {
            "caller-token-social-graph-manager",
            "caller-token-api-gateway",
            "caller-token-news-manager",
            "page-token-key-social-graph-manager",
            "db-password-social-graph-manager",
        },
        "news-manager": {
            "caller-token-news-manager",
            "caller-token-api-gateway",
            "page-token-key-news-manager",
            "redis-password",
            "nats-password",
        },
        "link-checker": {"caller-token-link-checker", "caller-token-link-manager", "nats-password"},
    }
    for name in SERVICES:
        keys = {
            e["valueFrom"]["secretKeyRef"]["key"]
            for c in containers(rendered.get("Deployment", name))
            for e in c.get("env", [])
            if "valueFrom" in e
        }
        assert keys == wanted[name], name
