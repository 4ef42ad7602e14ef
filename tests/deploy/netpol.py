"""A small evaluator of Kubernetes NetworkPolicy semantics, to ask a render "may A open a
connection to B on port P?".

A pod selected by some policy of a direction (Ingress, Egress) is isolated in it; a
connection is then allowed if any selecting policy has a rule whose peers and ports match.
A connection needs the source's egress and the destination's ingress. Peers: podSelector
(same namespace as the policy), namespaceSelector (optionally with a podSelector), ipBlock.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod (labels, namespace and its own named ports) or an address outside the cluster."""

    name: str
    namespace: str | None
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = "10.244.0.1"
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


def selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        op = expr["operator"]
        if (
            (op == "In" and value not in expr["values"])
            or (op == "NotIn" and value in expr["values"])
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


def peer_matches(peer: Obj, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        excepted = [ipaddress.ip_network(e) for e in block.get("except", [])]
        return not any(address.version == n.version and address in n for n in excepted)
    if not other.is_pod:
        return False
    assert other.namespace is not None
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], namespace_labels(other.namespace)):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), other.labels)


def port_matches(rule_ports: list[Obj] | None, port: int, protocol: str, target: Endpoint) -> bool:
    if not rule_ports:
        return True
    for entry in rule_ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        number = target.ports.get(wanted) if isinstance(wanted, str) else wanted
        if number is None:
            continue  # a named port the destination does not have
        end = int(entry.get("endPort") or number)
        if int(number) <= port <= end:
            return True
    return False


class Policies:
    def __init__(self, policies: list[Obj], namespace: str) -> None:
        self.policies = policies
        self.namespace = namespace

    def _selecting(self, pod: Endpoint, direction: str) -> list[Obj]:
        return [
            p
            for p in self.policies
            if pod.namespace == self.namespace
            and direction in p["spec"].get("policyTypes", ["Ingress"])
            and selects(p["spec"]["podSelector"], pod.labels)
        ]

    def _allows(self, pod: Endpoint, other: Endpoint, port: int, protocol: str, direction: str) -> bool:
        if not pod.is_pod:
            return True  # outside the cluster: not ours to restrict
        selecting = self._selecting(pod, direction)
        if not selecting:
            return True  # not isolated
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        # The port is the destination's: for ingress `pod`, for egress `other`.
        target = pod if direction == "Ingress" else other
        for policy in selecting:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if (not peers or any(peer_matches(p, self.namespace, other) for p in peers)) and port_matches(
                    rule.get("ports"), port, protocol, target
                ):
                    return True
        return False

    def allowed(self, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return self._allows(source, destination, port, protocol, "Egress") and self._allows(
            destination, source, port, protocol, "Ingress"
        )
