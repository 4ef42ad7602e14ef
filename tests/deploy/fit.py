"""Reading a render the way the cluster would: each container's resolved environment, with
the Secret the pods reference (the chart's own, or a stand-in for an existing one)."""

from __future__ import annotations

import secrets as random
from typing import Any

from tests.deploy import kube_env
from tests.deploy.chart import NAMESPACE, Obj, Rendered, containers, pod_spec


def secret_refs(rendered: Rendered) -> dict[str, set[str]]:
    """Secret name -> keys the pods read from it."""
    refs: dict[str, set[str]] = {}
    for workload in rendered.workloads() + rendered.of_kind("Pod"):
        for container in containers(workload):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.setdefault(ref["name"], set()).add(ref["key"])
    return refs


def secrets_for(rendered: Rendered) -> dict[str, dict[str, str]]:
    """The chart's Secret as rendered; a Secret it only references gets random values for
    every key read from it (as k8s/create-secret.sh or an operator would make)."""
    out: dict[str, dict[str, str]] = {}
    for name, keys in secret_refs(rendered).items():
        out[name] = {key: random.token_hex(24) for key in keys}
    for secret in rendered.of_kind("Secret"):
        out[secret["metadata"]["name"]] = rendered.secret_data()
    return out


def config_maps(rendered: Rendered) -> dict[str, dict[str, str]]:
    return {cm["metadata"]["name"]: cm.get("data", {}) for cm in rendered.of_kind("ConfigMap")}


def container_env(
    rendered: Rendered, workload: Obj, container: Obj, secrets: dict[str, dict[str, str]] | None = None
) -> dict[str, str]:
    pod = {"metadata.name": f"{workload['metadata']['name']}-0", "metadata.namespace": NAMESPACE}
    return kube_env.resolve(container, config_maps(rendered), secrets or secrets_for(rendered), pod)


def service_deployments(rendered: Rendered, names: Any) -> dict[str, Obj]:
    return {n: rendered.get("Deployment", n) for n in names}


def port_numbers(container: Obj) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def pod_containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    return list(spec.get("initContainers", [])) + list(spec["containers"])
