"""The rendered objects fit the code and each other: Services reach their pods' named ports,
those ports are the ones the services' settings listen on, every setting a service requires
is provided (the services' own settings classes accept the resolved environment), and every
pod carries probes, resources and the security settings."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.deploy import kube_env
from tests.deploy.chart import (
    CHART,
    VALUE_SETS,
    Obj,
    chart_values,
    containers,
    load_values,
    main_container,
    merge,
    pod_labels,
    pod_spec,
    render,
    render_set,
)
from tests.deploy.contract import (
    DATABASE_SERVICES,
    NEEDS_CALLER_TOKEN,
    SERVICES,
    required_variables,
    service_packages,
    settings_class,
    settings_from_env,
)
from tests.deploy.fit import container_env, port_numbers, secrets_for

LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_every_service_package_has_a_chart_entry() -> None:
    values = chart_values()
    assert {s["module"] for s in values["services"].values()} == service_packages()
    assert {name: s["module"] for name, s in values["services"].items()} == SERVICES


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_service_selects_one_workload_and_its_named_ports(value_set: str) -> None:
    rendered = render_set(value_set)
    for service in rendered.of_kind("Service"):
        name = service["metadata"]["name"]
        selected = [w for w in rendered.workloads() if matches(service["spec"]["selector"], pod_labels(w))]
        assert len(selected) == 1, f"Service {name} selects {[w['metadata']['name'] for w in selected]}"
        ports: dict[str, int] = {}
        for container in pod_spec(selected[0])["containers"]:
            ports.update(port_numbers(container))
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert isinstance(target, str), f"Service {name} port {port['name']}: target a named port"
            assert target in ports, f"Service {name}: no container port named {target}"
            assert ports[target] == port["port"], f"Service {name}: {port['port']} -> {ports[target]}"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_workload_selectors_match_their_pods_and_nothing_else(value_set: str) -> None:
    rendered = render_set(value_set)
    for workload in rendered.workloads():
        selector = workload["spec"]["selector"]["matchLabels"]
        assert matches(selector, pod_labels(workload))
        others = [w for w in rendered.workloads() if w is not workload and matches(selector, pod_labels(w))]
        assert not others, workload["metadata"]["name"]
    for kind in ("PodDisruptionBudget",):
        for pdb in rendered.of_kind(kind):
            selected = [
                w
                for w in rendered.workloads()
                if matches(pdb["spec"]["selector"]["matchLabels"], pod_labels(w))
            ]
            assert len(selected) == 1, pdb["metadata"]["name"]
    for hpa in rendered.of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        deployment = rendered.get(target["kind"], target["name"])
        assert "replicas" not in deployment["spec"], f"{target['name']}: the HPA owns replicas"


@pytest.mark.parametrize("value_set", VALUE_SETS)
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_settings_accept_the_rendered_environment(value_set: str, name: str) -> None:
    rendered = render_set(value_set)
    deployment = rendered.get("Deployment", name)
    container = main_container(deployment)
    env = container_env(rendered, deployment, container)
    assert not kube_env.unresolved(env), f"unresolved references: {kube_env.unresolved(env)}"
    # Fields without a default must be set explicitly.
    missing = required_variables(name) - env.keys()
    assert not missing, f"{name} requires {missing}"
    settings = settings_from_env(name, env)  # raises, naming the variable, if anything is wrong
    cls = settings_class(name)
    # Exactly the callers the service accepts: no one else's secret sits in its pod.
    assert set(settings.caller_tokens) == set(cls.accepted_callers)
    if name in NEEDS_CALLER_TOKEN:
        assert settings.caller_token is not None
    # The ports the settings listen on are the container's ports.
    ports = port_numbers(container)
    http_port = getattr(settings, "http_port", None)
    listening = {settings.port} | ({http_port} if http_port else set())
    assert set(ports.values()) == listening, (ports, listening)
    assert settings.port == cls.default_port, "the chart keeps the service's own default port"
    assert settings.host == "0.0.0.0"


def test_each_callers_secret_is_the_one_its_callees_know() -> None:
    rendered = render_set("defaults")
    secrets = secrets_for(rendered)
    envs = {}
    for name in SERVICES:
        deployment = rendered.get("Deployment", name)
        envs[name] = settings_from_env(
            name, container_env(rendered, deployment, main_container(deployment), secrets)
        )
    for callee, settings in envs.items():
        for caller, token in settings.caller_tokens.items():
            own = envs[caller].caller_token
            assert own is not None, f"{caller} has no CALLER_TOKEN but {callee} accepts it"
            assert own.get_secret_value() == token.get_secret_value(), f"{caller} -> {callee}"
    tokens = [s.caller_token.get_secret_value() for s in envs.values() if s.caller_token]
    assert len(tokens) == len(set(tokens)), "every caller has a secret of its own"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_database_urls_name_each_services_own_database_and_role(value_set: str) -> None:
    rendered = render_set(value_set)
    secrets = secrets_for(rendered)
    seen = set()
    for name in DATABASE_SERVICES:
        deployment = rendered.get("Deployment", name)
        env = container_env(rendered, deployment, main_container(deployment), secrets)
        settings = settings_from_env(name, env)
        url = str(getattr(settings, "database_url", ""))
        match = re.fullmatch(r"postgresql://([a-z_]+):([A-Za-z0-9]+)@([^/]+)/([a-z_]+)(\?.*)?", url)
        assert match, url
        user, password, _, database, _ = match.groups()
        [secret_name] = [
            r["secretKeyRef"]["name"] for e in main_container(deployment)["env"] if (r := e.get("valueFrom"))
        ][:1]
        assert password == secrets[secret_name][f"db-password-{name}"]
        seen.add((user, database))
    assert len(seen) == len(DATABASE_SERVICES)


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_migrations_run_before_the_server_in_services_with_a_database(value_set: str) -> None:
    rendered = render_set(value_set)
    for name, module in SERVICES.items():
        spec = pod_spec(rendered.get("Deployment", name))
        init = spec.get("initContainers", [])
        if name in DATABASE_SERVICES:
            [migrate] = init
            assert migrate["command"] == ["python", "-m", module, "migrate"]
            # The same settings as the server: same ConfigMap, same env.
            server = main_container(rendered.get("Deployment", name))
            assert migrate["envFrom"] == server["envFrom"] and migrate["env"] == server["env"]
            assert migrate["image"] == server["image"]
        else:
            assert not init, name


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_images_follow_the_naming_scheme(value_set: str) -> None:
    rendered = render_set(value_set)
    merged = merge(chart_values(), load_values(value_set))
    registry = merged["global"]["image"]["registry"].rstrip("/")
    tag = merged["global"]["image"]["tag"] or "0.1.0"
    for name in SERVICES:
        for container in containers(rendered.get("Deployment", name)):
            assert container["image"] == f"{registry}/{name}:{tag}"
            assert container["imagePullPolicy"] == merged["global"]["image"]["pullPolicy"]


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_probes(value_set: str) -> None:
    rendered = render_set(value_set)
    for name in SERVICES:
        container = main_container(rendered.get("Deployment", name))
        ports = port_numbers(container)
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        liveness = container["livenessProbe"]
        if "grpc" in ports:
            # The native gRPC probe asks the gRPC health service on the gRPC port.
            assert liveness["grpc"] == {"port": ports["grpc"], "service": ""}
            assert ports["grpc"] == settings_class(name).default_port
        else:
            assert liveness["httpGet"] == {"path": "/healthz", "port": "http"}
    for workload in rendered.of_kind("StatefulSet"):
        for container in pod_spec(workload)["containers"]:
            name = workload["metadata"]["name"]
            assert container.get("livenessProbe") and container.get("readinessProbe"), name


def test_news_manager_uses_the_native_grpc_probe_and_its_http_port() -> None:
    container = main_container(render_set("defaults").get("Deployment", "news-manager"))
    assert port_numbers(container) == {"grpc": 6060, "http": 6061}
    field = settings_class("news-manager").model_fields["http_port"]
    assert field.default == 6061


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_pod_is_locked_down(value_set: str) -> None:
    rendered = render_set(value_set)
    for workload in rendered.workloads() + rendered.of_kind("Pod"):
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] > 0, name
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        if name in SERVICES:
            assert pod_sc["runAsUser"] == 10001
            assert spec["serviceAccountName"] == name
            assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in spec["volumes"]
        for container in containers(workload):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert sc["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (name, container["name"])
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= resources[part].keys(), (name, container["name"], part)
    for account in rendered.of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_object_carries_the_recommended_labels(value_set: str) -> None:
    rendered = render_set(value_set)
    for obj in rendered.all():
        labels = obj["metadata"].get("labels", {})
        missing = [label for label in LABELS if label not in labels]
        assert not missing, f"{obj['kind']} {obj['metadata']['name']}: {missing}"
        assert labels["app.kubernetes.io/part-of"] == "delinkcious"
    for workload in rendered.workloads():
        labels = pod_labels(workload)
        assert all(label in labels for label in LABELS), workload["metadata"]["name"]


def test_every_service_has_a_pdb_and_the_ha_set_autoscales() -> None:
    defaults = render_set("defaults")
    assert {p["metadata"]["name"] for p in defaults.of_kind("PodDisruptionBudget")} == set(SERVICES)
    assert not defaults.of_kind("HorizontalPodAutoscaler")
    ha = render_set("high-availability")
    hpas = {h["metadata"]["name"]: h for h in ha.of_kind("HorizontalPodAutoscaler")}
    assert set(hpas) == set(SERVICES)
    for hpa in hpas.values():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["minReplicas"] == 3
    assert ha.get("StatefulSet", "nats")["spec"]["replicas"] == 3
    assert ha.has("PodDisruptionBudget", "nats")
    config = ha.get("ConfigMap", "nats-config")["data"]["nats.conf"]
    for i in range(3):
        assert f"nats://nats-{i}.nats-headless:6222" in config


def _checksums(rendered: Obj) -> dict[str, str]:
    annotations: dict[str, str] = rendered["spec"]["template"]["metadata"]["annotations"]
    return annotations


def test_changed_settings_or_secrets_roll_the_pods() -> None:
    before = _checksums(render().get("Deployment", "link-manager"))
    changed_config = _checksums(
        render({"services": {"link-manager": {"env": {"MAX_LINKS_PER_USER": "5"}}}}).get(
            "Deployment", "link-manager"
        )
    )
    changed_secret = _checksums(
        render({"secrets": {"values": {"page-token-key-link-manager": "x" * 40}}}).get(
            "Deployment", "link-manager"
        )
    )
    assert changed_config["checksum/config"] != before["checksum/config"]
    assert changed_config["checksum/secret"] == before["checksum/secret"]
    assert changed_secret["checksum/secret"] != before["checksum/secret"]
    # Deterministic: the same values render the same pods (no rollout on every upgrade).
    assert _checksums(render().get("Deployment", "link-manager")) == before
    assert len(before["checksum/config"]) == len(hashlib.sha256().hexdigest())


def test_chart_templates_exist_for_every_kind_the_issue_lists() -> None:
    names = {p.name for p in (CHART / "templates").iterdir()}
    for required in ("_helpers.tpl", "NOTES.txt", "deployment.yaml", "service.yaml", "configmap.yaml"):
        assert required in names
    assert (CHART / "values.schema.json").is_file()
