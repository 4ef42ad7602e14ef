"""Progressive delivery in the chart: rolling updates by default, blue-green, canary by replica
count and by weight through Istio, the mesh's mutual TLS, retries, timeouts and injected
faults. The value sets of these strategies render objects that are valid (built-in kinds
against Kubernetes' schemas, custom resources against their CRD schemas) and fit together as
the default ones do: Services select the tracks docs/operating.md describes, NetworkPolicies
allow the architecture's flows for every track, and every track's pods get settings their
service accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from tests.deploy.chart import (
    CHART,
    DELIVERY_SETS,
    NAMESPACE,
    RELEASE,
    Obj,
    Rendered,
    chart_values,
    containers,
    load_values,
    pod_labels,
    pod_spec,
    render,
    render_set,
)
from tests.deploy.contract import DATABASE_SERVICES, METRICS_PORTS, SERVICES, settings_from_env
from tests.deploy.fit import container_env, port_numbers, secrets_for
from tests.deploy.netpol import Endpoint, Policies
from tests.deploy.test_chart_network import allowed_flows, expected_flows
from tests.deploy.validate import crd_validator, peer_authentication_problems

ROOT = Path(__file__).resolve().parents[2]
OPERATING = ROOT / "docs" / "operating.md"


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


def deployments_of(rendered: Rendered, service: str) -> dict[str, Obj]:
    """Deployment name -> Deployment, for every track of a service."""
    return {
        d["metadata"]["name"]: d
        for d in rendered.of_kind("Deployment")
        if pod_labels(d)["app.kubernetes.io/name"] == service
    }


def selected(rendered: Rendered, selector: dict[str, str]) -> set[str]:
    return {w["metadata"]["name"] for w in rendered.workloads() if matches(selector, pod_labels(w))}


def service_container(deployment: Obj) -> Obj:
    """The service's container, named after the service whatever the track's Deployment is called."""
    name = pod_labels(deployment)["app.kubernetes.io/name"]
    [container] = [c for c in pod_spec(deployment)["containers"] if c["name"] == name]
    return container


def image_tag(deployment: Obj) -> str:
    return str(service_container(deployment)["image"].rsplit(":", 1)[1])


# --- every value set: valid objects that fit together ---------------------------------------


def test_the_istio_schemas_and_the_peer_authentication_check_catch_mistakes() -> None:
    rendered = render_set("canary-istio")
    service = json.loads(json.dumps(rendered.get("VirtualService", "link-manager")))
    service["spec"]["http"][0]["route"][0]["wieght"] = 80
    with pytest.raises(jsonschema.ValidationError):
        crd_validator(service["apiVersion"], "VirtualService").validate(service)
    rule = json.loads(json.dumps(rendered.get("DestinationRule", "link-manager")))
    rule["spec"]["subsets"][0]["selector"] = {"track": "stable"}
    with pytest.raises(jsonschema.ValidationError):
        crd_validator(rule["apiVersion"], "DestinationRule").validate(rule)
    policy = rendered.get("PeerAuthentication", RELEASE)
    assert peer_authentication_problems(policy) == []
    for broken_spec in (
        {"mtls": {"mode": "ON"}},
        {"mtls": {"mode": "STRICT"}, "selector": {"app": "x"}},
        {"mtls": {"mode": "STRICT"}, "portLevelMtls": {"http": {"mode": "DISABLE"}}},
        {"mtls": {"mode": "STRICT"}, "action": "ALLOW"},
    ):
        assert peer_authentication_problems({**policy, "spec": broken_spec}), broken_spec


@pytest.mark.parametrize("value_set", DELIVERY_SETS)
def test_every_service_selects_workloads_of_its_service_and_their_named_ports(value_set: str) -> None:
    rendered = render_set(value_set)
    for service in rendered.of_kind("Service"):
        name = service["metadata"]["name"]
        workloads = [w for w in rendered.workloads() if matches(service["spec"]["selector"], pod_labels(w))]
        assert workloads, f"Service {name} selects nothing"
        owners = {pod_labels(w)["app.kubernetes.io/name"] for w in workloads}
        assert owners == {service["metadata"]["labels"]["app.kubernetes.io/name"]}, (name, owners)
        for workload in workloads:
            ports: dict[str, int] = {}
            for container in pod_spec(workload)["containers"]:
                ports.update(port_numbers(container))
            for port in service["spec"]["ports"]:
                target = port["targetPort"]
                assert ports.get(target) == port["port"], (name, workload["metadata"]["name"], target)


@pytest.mark.parametrize("value_set", DELIVERY_SETS)
def test_tracks_never_share_pods_and_scalers_own_their_replicas(value_set: str) -> None:
    rendered = render_set(value_set)
    for workload in rendered.workloads():
        selector = workload["spec"]["selector"]["matchLabels"]
        assert matches(selector, pod_labels(workload))
        others = [w for w in rendered.workloads() if w is not workload and matches(selector, pod_labels(w))]
        assert not others, workload["metadata"]["name"]
    for pdb in rendered.of_kind("PodDisruptionBudget"):
        name = pdb["metadata"]["name"]
        covered = selected(rendered, pdb["spec"]["selector"]["matchLabels"])
        expected = set(deployments_of(rendered, name)) if name in SERVICES else {name}
        assert covered == expected, f"PodDisruptionBudget {name} covers {covered}, not every track"
    for scaler in rendered.of_kind("HorizontalPodAutoscaler") + rendered.of_kind("ScaledObject"):
        target = scaler["spec"]["scaleTargetRef"]
        deployment = rendered.get(target["kind"], target["name"])
        assert "replicas" not in deployment["spec"], f"{target['name']}: the autoscaler owns replicas"
        assert scaler["metadata"]["name"] == target["name"]
        assert pod_labels(deployment).get("track") != "canary", "a canary's count is its share"


@pytest.mark.parametrize("value_set", DELIVERY_SETS)
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_track_gets_settings_its_service_accepts(value_set: str, name: str) -> None:
    rendered = render_set(value_set)
    secrets = secrets_for(rendered)
    tracks = deployments_of(rendered, name)
    assert tracks
    for deployment in tracks.values():
        container = service_container(deployment)
        env = container_env(rendered, deployment, container, secrets)
        settings = settings_from_env(name, env)  # raises, naming the variable, if anything is wrong
        assert set(port_numbers(container).values()) >= {settings.port}
        if name in DATABASE_SERVICES:
            [migrate] = pod_spec(deployment)["initContainers"]
            assert migrate["image"] == container["image"], "a track migrates with its own version"
            assert migrate["env"] == container["env"]


def expected_delivery_flows(value_set: str) -> set[tuple[str, str, int]]:
    flows = expected_flows("defaults")
    values = load_values(value_set)
    if values.get("postgres", {}).get("enabled") is False:
        flows = {f for f in flows if f[1] != "postgres"}
    if values.get("monitoring", {}).get("enabled"):
        flows |= {("prometheus", name, port) for name, port in METRICS_PORTS.items()}
    if values.get("linkChecker", {}).get("keda", {}).get("enabled"):
        flows.add(("keda", "nats", 8222))
    if values.get("tracing", {}).get("jaeger", {}).get("enabled"):
        flows |= {(name, "jaeger", 4318) for name in SERVICES}
    return flows


@pytest.mark.parametrize("value_set", DELIVERY_SETS)
def test_policies_allow_exactly_the_architectures_flows_for_every_track(value_set: str) -> None:
    rendered = render_set(value_set)
    allowed = allowed_flows(rendered)
    expected = expected_delivery_flows(value_set)
    assert allowed - expected == set(), "allowed but not in the architecture"
    assert expected - allowed == set(), "needed but blocked"


@pytest.mark.parametrize("value_set", DELIVERY_SETS)
def test_every_object_and_pod_is_labelled_and_locked_down(value_set: str) -> None:
    rendered = render_set(value_set)
    for obj in rendered.all():
        labels = obj["metadata"].get("labels", {})
        assert all(label in labels for label in LABELS), f"{obj['kind']} {obj['metadata']['name']}"
    for workload in rendered.workloads():
        name = workload["metadata"]["name"]
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in containers(workload):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name


# --- rolling updates -----------------------------------------------------------------------


def test_rolling_updates_by_default_never_lose_capacity() -> None:
    rendered = render_set("defaults")
    for name in SERVICES:
        [deployment] = deployments_of(rendered, name).values()
        assert deployment["metadata"]["name"] == name
        assert deployment["spec"]["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
        }
        assert deployment["spec"]["selector"]["matchLabels"]["track"] == "stable"
        assert pod_labels(deployment)["track"] == "stable"
        assert "track" not in rendered.get("Service", name)["spec"]["selector"]
    assert not render_set("defaults").of_kind("VirtualService")


# --- blue-green ------------------------------------------------------------------------------


def test_blue_green_serves_the_active_colour_and_previews_the_other() -> None:
    rendered = render_set("bluegreen")
    tracks = deployments_of(rendered, "link-manager")
    assert set(tracks) == {"link-manager-blue", "link-manager-green"}
    assert {image_tag(d) for d in tracks.values()} == {"1.0.0", "2.0.0"}
    assert pod_labels(tracks["link-manager-blue"])["track"] == "blue"
    assert image_tag(tracks["link-manager-blue"]) == "1.0.0"
    assert pod_labels(tracks["link-manager-green"])["track"] == "green"
    assert image_tag(tracks["link-manager-green"]) == "2.0.0"
    # active: green. The Service selects green's pods, the preview Service blue's.
    service = rendered.get("Service", "link-manager")
    assert service["spec"]["selector"]["track"] == "green"
    assert selected(rendered, service["spec"]["selector"]) == {"link-manager-green"}
    preview = rendered.get("Service", "link-manager-preview")
    assert preview["spec"]["selector"]["track"] == "blue"
    assert selected(rendered, preview["spec"]["selector"]) == {"link-manager-blue"}
    assert preview["spec"]["ports"] == service["spec"]["ports"]
    assert not rendered.has("Deployment", "link-manager")
    assert "link-manager serves its green track; the other one answers at service/link-manager-preview" in (
        rendered.notes
    )
    # Both colours run the full count, unless a colour sets its own.
    assert (
        tracks["link-manager-blue"]["spec"]["replicas"]
        == tracks["link-manager-green"]["spec"]["replicas"]
        == 2
    )
    users = deployments_of(rendered, "user-manager")
    assert users["user-manager-green"]["spec"]["replicas"] == 1
    assert users["user-manager-blue"]["spec"]["replicas"] == 2
    assert selected(rendered, rendered.get("Service", "user-manager")["spec"]["selector"]) == {
        "user-manager-blue"
    }


def test_blue_green_autoscales_each_colour() -> None:
    rendered = render_set("bluegreen")
    hpas = {
        h["metadata"]["name"]: h["spec"]["scaleTargetRef"]["name"]
        for h in rendered.of_kind("HorizontalPodAutoscaler")
    }
    assert hpas == {"api-gateway-blue": "api-gateway-blue", "api-gateway-green": "api-gateway-green"}


def test_switching_colours_changes_only_the_selectors() -> None:
    """A switch (and a rollback) restarts no pod: the Deployments render identically."""
    values = load_values("bluegreen")
    switched = json.loads(json.dumps(values))
    switched["services"]["link-manager"]["blueGreen"]["active"] = "blue"
    before, after = render(values), render(switched)
    assert before.of_kind("Deployment") == after.of_kind("Deployment")
    assert rendered_selector(after, "link-manager")["track"] == "blue"
    assert rendered_selector(after, "link-manager-preview")["track"] == "green"
    changed = {
        (o["kind"], o["metadata"]["name"])
        for o in after.all()
        if o["kind"] != "Secret" and o not in before.all()
    }
    assert changed == {("Service", "link-manager"), ("Service", "link-manager-preview")}


def rendered_selector(rendered: Rendered, service: str) -> dict[str, str]:
    selector: dict[str, str] = rendered.get("Service", service)["spec"]["selector"]
    return selector


def test_blue_green_with_the_mesh_routes_to_the_active_subset() -> None:
    rendered = render_set("mesh")
    route = rendered.get("VirtualService", "user-manager")["spec"]["http"][0]["route"]
    assert [r["destination"]["subset"] for r in route] == ["green"]
    subsets = {
        s["name"]: s["labels"] for s in rendered.get("DestinationRule", "user-manager")["spec"]["subsets"]
    }
    assert subsets == {"blue": {"track": "blue"}, "green": {"track": "green"}}


# --- canary ----------------------------------------------------------------------------------


def test_canary_by_replicas_shares_the_service_in_proportion() -> None:
    rendered = render_set("canary")
    tracks = deployments_of(rendered, "link-manager")
    assert set(tracks) == {"link-manager", "link-manager-canary"}
    stable, canary = tracks["link-manager"], tracks["link-manager-canary"]
    assert (pod_labels(stable)["track"], pod_labels(canary)["track"]) == ("stable", "canary")
    assert (image_tag(stable), image_tag(canary)) == ("1.0.0", "1.1.0")
    # The same Service selects both: the canary gets 1 of 4 pods, a quarter of the connections.
    service = rendered.get("Service", "link-manager")
    assert selected(rendered, service["spec"]["selector"]) == {"link-manager", "link-manager-canary"}
    assert not rendered.has("Service", "link-manager-canary")
    share = canary["spec"]["replicas"] / (stable["spec"]["replicas"] + canary["spec"]["replicas"])
    assert share == 0.25
    news = rendered.get("Service", "news-manager")
    assert selected(rendered, news["spec"]["selector"]) == {"news-manager", "news-manager-canary"}


def test_a_canary_is_never_autoscaled_and_keda_keeps_scaling_the_stable_checker() -> None:
    rendered = render_set("canary")
    [scaled] = rendered.of_kind("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "link-checker"
    assert "replicas" not in rendered.get("Deployment", "link-checker")["spec"]
    assert rendered.get("Deployment", "link-checker-canary")["spec"]["replicas"] == 1


def test_canary_by_weight_routes_the_weight_to_subsets_of_the_tracks_pods() -> None:
    rendered = render_set("canary-istio")
    for name, weight in (("link-manager", 20), ("news-manager", 50)):
        host = f"{name}.{NAMESPACE}.svc.cluster.local"
        service = rendered.get("VirtualService", name)
        assert service["spec"]["hosts"] == [host]
        [http] = service["spec"]["http"]
        routes = {r["destination"]["subset"]: r["weight"] for r in http["route"]}
        assert routes == {"stable": 100 - weight, "canary": weight}
        assert {r["destination"]["host"] for r in http["route"]} == {host}
        rule = rendered.get("DestinationRule", name)
        assert rule["spec"]["host"] == host
        tracks = deployments_of(rendered, name)
        for subset in rule["spec"]["subsets"]:
            # Each subset selects exactly the pods of the Deployment of that track.
            selected_tracks = {n for n, d in tracks.items() if matches(subset["labels"], pod_labels(d))}
            assert selected_tracks == {name if subset["name"] == "stable" else f"{name}-canary"}
        # The Service selects both tracks; the sidecars split by weight.
        assert selected(rendered, rendered.get("Service", name)["spec"]["selector"]) == set(tracks)


def test_the_documented_80_20_canary() -> None:
    rendered = render(
        {
            "mesh": {"istio": {"enabled": True}},
            "services": {"link-manager": {"canary": {"enabled": True, "weight": 20}}},
        }
    )
    [http] = rendered.get("VirtualService", "link-manager")["spec"]["http"]
    assert [(r["destination"]["subset"], r["weight"]) for r in http["route"]] == [
        ("stable", 80),
        ("canary", 20),
    ]


# --- the mesh --------------------------------------------------------------------------------


def test_mutual_tls_is_strict_with_a_permissive_public_service_by_default() -> None:
    policies = {p["metadata"]["name"]: p for p in render_set("canary-istio").of_kind("PeerAuthentication")}
    assert set(policies) == {RELEASE, "api-gateway"}
    assert "selector" not in policies[RELEASE]["spec"], "the namespace's policy"
    assert policies[RELEASE]["spec"]["mtls"] == {"mode": "STRICT"}
    gateway = policies["api-gateway"]["spec"]
    assert gateway["mtls"] == {"mode": "PERMISSIVE"}
    pods = [
        d
        for d in render_set("canary-istio").of_kind("Deployment")
        if matches(gateway["selector"]["matchLabels"], pod_labels(d))
    ]
    assert {d["metadata"]["name"] for d in pods} == {"api-gateway"}
    strict = render_set("mesh").of_kind("PeerAuthentication")
    assert [p["spec"]["mtls"]["mode"] for p in strict] == ["STRICT"]


def test_resilience_options_render_into_the_virtual_services() -> None:
    rendered = render_set("mesh")
    [users] = rendered.get("VirtualService", "user-manager")["spec"]["http"]
    assert users["fault"] == {
        "delay": {"percentage": {"value": 10}, "fixedDelay": "3s"},
        "abort": {"percentage": {"value": 5}, "httpStatus": 503},
    }
    [news] = rendered.get("VirtualService", "news-manager")["spec"]["http"]
    assert news["fault"] == {"abort": {"percentage": {"value": 20}, "grpcStatus": "UNAVAILABLE"}}
    [social] = rendered.get("VirtualService", "social-graph-manager")["spec"]["http"]
    assert social["timeout"] == "2s"
    assert social["retries"] == {
        "attempts": 3,
        "perTryTimeout": "500ms",
        "retryOn": "connect-failure,refused-stream,reset",
    }
    assert "fault" not in social
    [links] = rendered.get("VirtualService", "link-manager")["spec"]["http"]
    defaults = chart_values()["serviceDefaults"]["istio"]["retries"]
    assert links["retries"] == {"attempts": defaults["attempts"], "retryOn": defaults["retryOn"]}
    assert "timeout" not in links and "fault" not in links
    no_retries = render(
        {
            "mesh": {"istio": {"enabled": True}},
            "services": {"link-manager": {"istio": {"retries": {"attempts": 0}}}},
        }
    )
    assert no_retries.get("VirtualService", "link-manager")["spec"]["http"][0]["retries"] == {"attempts": 0}


def test_meshed_pods_get_a_sidecar_that_stays_out_of_the_way_of_the_data_stores() -> None:
    rendered = render_set("mesh")
    bypass = {
        "api-gateway": "6379",  # Redis: the replicas' shared state
        "link-manager": "6432,4222",  # the external Postgres' port, NATS
        "user-manager": "6432",
        "social-graph-manager": "6432",
        "news-manager": "6379,4222",
        "link-checker": "4222",
    }
    for name, ports in bypass.items():
        for deployment in deployments_of(rendered, name).values():
            template = deployment["spec"]["template"]["metadata"]
            assert template["labels"]["sidecar.istio.io/inject"] == "true"
            annotations = template["annotations"]
            assert annotations.get("traffic.sidecar.istio.io/excludeOutboundPorts") == ports, name
            config = json.loads(annotations["proxy.istio.io/config"])
            assert config == {"holdApplicationUntilProxyStarts": True, "terminationDrainDuration": "10s"}
    for workload in rendered.of_kind("StatefulSet"):
        assert "sidecar.istio.io/inject" not in pod_labels(workload)
    for deployment in render_set("defaults").of_kind("Deployment"):
        assert "sidecar.istio.io/inject" not in pod_labels(deployment)


def test_sidecars_may_reach_istiod_and_nothing_more() -> None:
    rendered = render_set("mesh")
    pols = Policies(rendered.of_kind("NetworkPolicy"), NAMESPACE)
    istiod = Endpoint("istiod", "istio-system", {"app": "istiod"}, "10.244.9.7")
    for workload in rendered.workloads():
        labels = pod_labels(workload)
        pod = Endpoint(labels["app.kubernetes.io/name"], NAMESPACE, labels, "10.244.1.1")
        meshed = labels.get("sidecar.istio.io/inject") == "true"
        assert pols.allowed(pod, istiod, 15012) == meshed, workload["metadata"]["name"]
        assert not pols.allowed(pod, istiod, 15017)
    without_mesh = Policies(render_set("canary").of_kind("NetworkPolicy"), NAMESPACE)
    gateway = render_set("canary").get("Deployment", "api-gateway")
    pod = Endpoint("api-gateway", NAMESPACE, pod_labels(gateway), "10.244.1.1")
    assert not without_mesh.allowed(pod, istiod, 15012)


def test_prometheus_scrapes_through_mutual_tls_when_strict() -> None:
    [endpoint] = render_set("canary-istio").get("ServiceMonitor", "delinkcious")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "caFile": "/etc/prom-certs/root-cert.pem",
        "certFile": "/etc/prom-certs/cert-chain.pem",
        "keyFile": "/etc/prom-certs/key.pem",
        "insecureSkipVerify": True,
    }
    [plain] = render_set("observability").get("ServiceMonitor", "delinkcious")["spec"]["endpoints"]
    assert plain["scheme"] == "http" and "tlsConfig" not in plain


# --- mistakes the chart refuses ------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"services": {"link-manager": {"blueGreen": {"active": "purple"}}}}, "active"),
        ({"services": {"link-manager": {"canary": {"weight": 120}}}}, "weight"),
        ({"services": {"link-manager": {"canary": {"wieght": 20}}}}, "wieght"),
        ({"services": {"user-manager": {"istio": {"fault": {"delay": {"percentage": 150}}}}}}, "percentage"),
        (
            {"services": {"user-manager": {"istio": {"fault": {"delay": {"fixedDelay": "3 seconds"}}}}}},
            "fixedDelay",
        ),
        (
            {"services": {"news-manager": {"istio": {"fault": {"abort": {"grpcStatus": "BROKEN"}}}}}},
            "grpcStatus",
        ),
        ({"serviceDefaults": {"rollingUpdate": {"maxSurge": "lots"}}}, "maxSurge"),
        ({"mesh": {"istio": {"mtls": {"mode": "ON"}}}}, "mode"),
        ({"tracing": {"sampler": "sometimes"}}, "sampler"),
        ({"tracing": {"otlpEndpoint": "collector:4318"}}, "otlpEndpoint"),
        ({"monitoring": {"alerts": {"errorRatio": 5}}}, "errorRatio"),
    ],
)
def test_schema_rejects(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError) as caught:
        render(values)
    assert message in str(caught.value)


def test_a_service_is_either_blue_green_or_canary() -> None:
    values = {"services": {"link-manager": {"blueGreen": {"enabled": True}, "canary": {"enabled": True}}}}
    with pytest.raises(helm.HelmError) as caught:
        render(values)
    assert "services.link-manager: blueGreen and canary cannot both be enabled" in str(caught.value)


# --- docs/operating.md matches the chart ---------------------------------------------------

VALUE_PATH = re.compile(
    r"`((?:services\.<name>|serviceDefaults|global|mesh|tracing|monitoring|linkChecker|networkPolicy)"
    r"(?:\.[A-Za-z<>]+)+)(?:=[^`]*)?`"
)


def accepted(schema: dict[str, Any], path: str) -> bool:
    """Whether the chart's values schema has this value (optional ones included)."""
    node: Any = schema
    for part in path.replace("services.<name>", "serviceDefaults").replace("<colour>", "blue").split("."):
        properties = node.get("properties", {}) if isinstance(node, dict) else {}
        if part not in properties:
            return False
        node = properties[part]
    return True


def test_every_value_the_operating_guide_names_exists() -> None:
    text = OPERATING.read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())
    paths = {m.group(1) for m in VALUE_PATH.finditer(text)}
    # Commands in the guide name values of a concrete service: --set services.<service>.x=...
    for match in re.finditer(r"--set services\.([a-z-]+)\.([A-Za-z.]+)=", text):
        assert match.group(1) in SERVICES, match.group(0)
        paths.add(f"services.<name>.{match.group(2)}")
    assert len(paths) > 20, "the guide documents the values"
    missing = sorted(p for p in paths if not accepted(schema, p))
    assert not missing, f"docs/operating.md names values the chart does not have: {missing}"


def test_the_operating_guide_covers_promoting_and_rolling_back_each_strategy() -> None:
    text = OPERATING.read_text()
    headings = re.findall(r"^#{2,4} (.+)$", text, flags=re.MULTILINE)
    for heading in (
        "Delivering a new version",
        "Rolling updates",
        "Blue-green",
        "Canary by replicas",
        "Canary by weight (Istio)",
        "Schema changes",
        "Scaling",
        "Resilience drills",
        "Alerts",
    ):
        assert heading in headings, heading
    sections = re.split(r"^### ", text, flags=re.MULTILINE)
    for title in ("Rolling updates", "Blue-green", "Canary by replicas", "Canary by weight (Istio)"):
        [section] = [s for s in sections if s.startswith(title)]
        assert re.search(r"[Pp]romote|Switch", section), title
        assert "Roll back" in section or "roll back" in section, title
    assert "expand" in text and "contract" in text.lower()


def test_the_guide_states_the_charts_defaults() -> None:
    text = OPERATING.read_text()
    defaults = chart_values()["serviceDefaults"]
    keda = chart_values()["linkChecker"]["keda"]
    assert f"maxSurge: {defaults['rollingUpdate']['maxSurge']}" in text
    assert f"maxUnavailable: {defaults['rollingUpdate']['maxUnavailable']}" in text
    assert (
        f"`targetCPUUtilizationPercentage` ({defaults['autoscaling']['targetCPUUtilizationPercentage']})"
        in text
    )
    assert f"`minReplicas` ({defaults['autoscaling']['minReplicas']})" in text
    assert f"`maxReplicas` ({defaults['autoscaling']['maxReplicas']})" in text
    assert f"`linkChecker.keda.lagThreshold` ({keda['lagThreshold']})" in text
    assert f"`linkChecker.keda.cpuUtilization` ({keda['cpuUtilization']})" in text
    for name, service in chart_values()["services"].items():
        assert re.search(rf"^\| {name} \| {service['replicas']} \|", text, flags=re.MULTILINE), name


def test_chart_readme_lists_the_new_options() -> None:
    readme = (CHART / "README.md").read_text()
    for value in (
        "blueGreen",
        "canary",
        "mesh.istio.enabled",
        "tracing.jaeger.enabled",
        "tracing.otlpEndpoint",
        "monitoring.dashboards.enabled",
    ):
        assert value in readme, value
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["version"] != "0.1.0"
