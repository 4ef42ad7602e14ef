"""A container's environment as the kubelet builds it: envFrom first, then env in order,
values from ConfigMaps and Secrets, and `$(VAR)` references expanded against what is
already defined (Kubernetes' expansion rules: `$$` is a literal `$`, an unknown `$(VAR)`
stays as written)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def expand(value: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] != "$" or i + 1 >= len(value):
            out.append(value[i])
            i += 1
            continue
        nxt = value[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = value.find(")", i + 2)
            if end < 0:
                out.append("$(")
                i += 2
                continue
            name = value[i + 2 : end]
            out.append(env.get(name, f"$({name})"))
            i = end + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


class MissingReference(KeyError):
    pass


def resolve(
    container: Mapping[str, Any],
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
    pod: Mapping[str, str],
) -> dict[str, str]:
    """`pod` gives the fieldRef values (metadata.name, metadata.namespace)."""
    env: dict[str, str] = {}

    def lookup(source: Mapping[str, Mapping[str, str]], kind: str, name: str, key: str | None) -> Any:
        if name not in source:
            raise MissingReference(f"{kind} {name} does not exist")
        if key is None:
            return source[name]
        if key not in source[name]:
            raise MissingReference(f"{kind} {name} has no key {key}")
        return source[name][key]

    for item in container.get("envFrom", []):
        if "configMapRef" in item:
            env.update(lookup(config_maps, "ConfigMap", item["configMapRef"]["name"], None))
        elif "secretRef" in item:
            env.update(lookup(secrets, "Secret", item["secretRef"]["name"], None))
        else:
            raise AssertionError(f"unsupported envFrom {item}")
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            env[name] = lookup(secrets, "Secret", ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
        elif "configMapKeyRef" in ref:
            cm = ref["configMapKeyRef"]
            env[name] = lookup(config_maps, "ConfigMap", cm["name"], cm["key"])
        elif "fieldRef" in ref:
            env[name] = pod[ref["fieldRef"]["fieldPath"]]
        else:
            raise AssertionError(f"unsupported valueFrom {ref}")
    return env


def unresolved(env: Mapping[str, str]) -> dict[str, str]:
    """Variables whose value still holds a `$(NAME)` reference: a typo or wrong order."""
    return {k: v for k, v in env.items() if re.search(r"\$\([A-Za-z_][A-Za-z0-9_]*\)", v)}
