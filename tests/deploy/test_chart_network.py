"""NetworkPolicies allow the flows of the architecture and nothing else: every pair of pods
(the release's, plus an ingress controller, Prometheus, KEDA, kube-dns and strangers) and
every port the destination listens on is checked against the expected set."""

from __future__ import annotations

import pytest

from tests.deploy.chart import NAMESPACE, VALUE_SETS, Rendered, containers, pod_labels, render_set
from tests.deploy.contract import DATA_FLOWS, METRICS_PORTS, PUBLIC, SERVICE_FLOWS, SERVICES, SMOKE_TEST_FLOWS
from tests.deploy.netpol import Endpoint, Policies

INFRA = {"postgres", "redis", "nats"}

OUTSIDERS = [
    Endpoint(
        "ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, "10.244.9.1"
    ),
    Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}, "10.244.9.2"),
    Endpoint("keda", "keda", {"app": "keda-operator"}, "10.244.9.3"),
    Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, "10.244.9.4", {"dns": 53}),
    # A pod of someone else, in the release's namespace and in another one.
    Endpoint("neighbour", NAMESPACE, {"app": "something-else"}, "10.244.9.5"),
    Endpoint("stranger", "default", {"app.kubernetes.io/name": "api-gateway"}, "10.244.9.6"),
]
DNS = OUTSIDERS[3]


def release_pods(rendered: Rendered) -> list[Endpoint]:
    pods = []
    for i, workload in enumerate(rendered.workloads() + rendered.of_kind("Pod")):
        ports: dict[str, int] = {}
        for container in containers(workload, init=False):
            ports.update({p["name"]: p["containerPort"] for p in container.get("ports", [])})
        name = pod_labels(workload)["app.kubernetes.io/name"]
        pods.append(Endpoint(name, NAMESPACE, pod_labels(workload), f"10.244.1.{i + 1}", ports))
    return pods


def policies(rendered: Rendered) -> Policies:
    return Policies(rendered.of_kind("NetworkPolicy"), NAMESPACE)


def allowed_flows(rendered: Rendered) -> set[tuple[str, str, int]]:
    """Every (source, destination, port) between pods that the policies let through."""
    pols = policies(rendered)
    pods = release_pods(rendered)
    flows = set()
    for source in pods + OUTSIDERS:
        for destination in pods:
            for port in set(destination.ports.values()):
                if pols.allowed(source, destination, port):
                    flows.add((source.name, destination.name, port))
    return flows


def expected_flows(value_set: str) -> set[tuple[str, str, int]]:
    flows = set(SERVICE_FLOWS) | set(DATA_FLOWS) | set(SMOKE_TEST_FLOWS)
    if value_set == "k8s":
        flows -= SMOKE_TEST_FLOWS
    if value_set == "external":
        flows = {f for f in flows if f[1] not in INFRA}
    if value_set == "high-availability":
        flows.add(("nats", "nats", 6222))
    if value_set == "all-features":
        flows.add(("ingress-controller", PUBLIC, 5000))
        flows |= {("prometheus", name, port) for name, port in METRICS_PORTS.items()}
        flows.add(("keda", "nats", 8222))
    return flows


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_policies_allow_exactly_the_architectures_flows(value_set: str) -> None:
    rendered = render_set(value_set)
    allowed = allowed_flows(rendered)
    expected = expected_flows(value_set)
    assert allowed - expected == set(), "allowed but not in the architecture"
    assert expected - allowed == set(), "needed but blocked"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_nothing_else_reaches_postgres_redis_or_nats(value_set: str) -> None:
    rendered = render_set(value_set)
    to_data = {f for f in allowed_flows(rendered) if f[1] in INFRA}
    assert to_data == {f for f in expected_flows(value_set) if f[1] in INFRA}
    if value_set != "external":
        assert {(s, d) for s, d, p in to_data if p in (5432, 6379, 4222)} == {
            (s, d) for s, d, _ in DATA_FLOWS
        }


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_pod_is_denied_by_default_and_may_resolve_names(value_set: str) -> None:
    rendered = render_set(value_set)
    pols = policies(rendered)
    for pod in release_pods(rendered):
        assert pols.allowed(pod, DNS, 53, "UDP") and pols.allowed(pod, DNS, 53, "TCP"), pod.name
        assert not pols.allowed(pod, DNS, 80), pod.name
        # Isolated in both directions by the default-deny policy.
        assert pols._selecting(pod, "Ingress") and pols._selecting(pod, "Egress"), pod.name


def address(ip: str) -> Endpoint:
    return Endpoint(ip, None, ip=ip)


PUBLIC_V4 = address("93.184.216.34")
PUBLIC_V6 = address("2606:4700:4700::1111")
PRIVATE = [
    address(ip)
    for ip in (
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "127.0.0.1",
        "fd00::1",
        "fe80::1",
    )
]


def pod(rendered: Rendered, name: str) -> Endpoint:
    [found] = [p for p in release_pods(rendered) if p.name == name]
    return found


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_only_the_link_checker_reaches_the_internet_and_never_private_addresses(value_set: str) -> None:
    rendered = render_set(value_set)
    pols = policies(rendered)
    checker = pod(rendered, "link-checker")
    for port in (80, 443):
        assert pols.allowed(checker, PUBLIC_V4, port) and pols.allowed(checker, PUBLIC_V6, port)
        for private in PRIVATE:
            assert not pols.allowed(checker, private, port), private.ip
    assert not pols.allowed(checker, PUBLIC_V4, 22)
    assert not pols.allowed(checker, PUBLIC_V4, 8080)
    login = value_set == "all-features"  # social login calls GitHub and the OpenID provider
    for name in SERVICES:
        if name == "link-checker":
            continue
        reaches = pols.allowed(pod(rendered, name), PUBLIC_V4, 443)
        assert reaches == (login and name == PUBLIC), name


def test_external_servers_are_reached_on_their_own_ports_only() -> None:
    rendered = render_set("external")
    pols = policies(rendered)
    server = address("203.0.113.10")
    expected = {
        ("link-manager", 6432),
        ("user-manager", 6432),
        ("social-graph-manager", 6432),
        ("news-manager", 6380),
        ("api-gateway", 6380),
        ("news-manager", 4443),
        ("link-manager", 4443),
        ("link-checker", 4443),
    }
    for name in SERVICES:
        for port in (5432, 6432, 6379, 6380, 4222, 4443):
            assert pols.allowed(pod(rendered, name), server, port) == ((name, port) in expected), (name, port)
