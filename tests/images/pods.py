"""A rendered chart's pod, as podman runs it: the same command, environment (ConfigMap,
Secret and $(VAR) references resolved the way the kubelet does), user, read-only root,
dropped capabilities and writable volumes. Anything in a pod's or container's
securityContext this module does not know fails, so the chart cannot drift from what the
image tests prove."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tests.deploy.chart import Obj, Rendered, pod_spec

# podman as it works here: vfs storage, runc (crun fails on hybrid cgroups), cgroupfs,
# and explicit ulimits (the runtime's defaults are refused).
PODMAN = ("podman", "--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs")
ULIMITS = ("--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096")

_POD_KEYS = {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile"}
_CONTAINER_KEYS = {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsNonRoot", "capabilities"}
_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@dataclass
class Container:
    """One container of a pod, ready for `podman run`."""

    name: str
    image: str
    command: list[str]
    env: dict[str, str]
    uid: int
    gid: int
    groups: list[int] = field(default_factory=list)
    read_only: bool = False
    no_new_privileges: bool = False
    cap_drop: list[str] = field(default_factory=list)
    tmpfs: dict[str, str] = field(default_factory=dict)  # mount path -> size
    ports: dict[str, int] = field(default_factory=dict)  # port name -> number

    def create_args(self, podman_name: str, hosts: list[str]) -> list[str]:
        """`podman create` arguments (without the leading podman options)."""
        args = ["create", "--name", podman_name, "--network", "host", *ULIMITS]
        args += ["--user", f"{self.uid}:{self.gid}"]
        args += [f"--group-add={g}" for g in self.groups]
        if self.read_only:
            # podman would otherwise mount writable tmpfs on /tmp, /var/tmp and /run.
            args += ["--read-only", "--read-only-tmpfs=false"]
        if self.no_new_privileges:
            args += ["--security-opt", "no-new-privileges"]
        args += [f"--cap-drop={c}" for c in self.cap_drop]
        for path, size in self.tmpfs.items():
            args += ["--mount", f"type=tmpfs,destination={path},tmpfs-size={size},tmpfs-mode=1777"]
        args += [f"--add-host={h}:127.0.0.1" for h in hosts]
        for key, value in self.env.items():
            args += ["--env", f"{key}={value}"]
        args += ["--entrypoint", json.dumps(self.command), self.image]
        return args


def _resolve_env(container: Obj, rendered: Rendered) -> dict[str, str]:
    secret = rendered.secret_data()
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        [(kind, ref)] = source.items()
        assert kind == "configMapRef", f"unknown envFrom source {kind}"
        env.update(rendered.get("ConfigMap", ref["name"])["data"])
    for entry in container.get("env", []):
        if "value" in entry:
            # The kubelet expands $(VAR) from the variables defined before this one.
            value = _REF.sub(lambda m: env.get(m.group(1), m.group(0)), str(entry["value"]))
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert rendered.of_kind("Secret"), f"{entry['name']} reads a Secret the chart does not render"
            value = secret[ref["key"]]
        env[entry["name"]] = value
    return env


def _volumes(pod: Obj) -> dict[str, str]:
    sizes = {}
    for volume in pod.get("volumes", []):
        assert set(volume) == {"name", "emptyDir"}, f"unsupported volume {volume}"
        sizes[volume["name"]] = volume["emptyDir"].get("sizeLimit", "64Mi").replace("Mi", "m")
    return sizes


def container(rendered: Rendered, workload: Obj, name: str) -> Container:
    """The pod's container (or init container) called `name`, as podman runs it."""
    pod = pod_spec(workload)
    [spec] = [c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == name]
    psc, csc = pod.get("securityContext", {}), spec.get("securityContext", {})
    assert set(psc) <= _POD_KEYS, f"pod securityContext has {set(psc) - _POD_KEYS}: unknown here"
    assert set(csc) <= _CONTAINER_KEYS, f"securityContext has {set(csc) - _CONTAINER_KEYS}: unknown here"
    # RuntimeDefault is podman's default seccomp profile too.
    assert psc.get("seccompProfile", {"type": "RuntimeDefault"}) == {"type": "RuntimeDefault"}
    assert set(csc.get("capabilities", {})) <= {"drop"}
    uid, gid = int(psc["runAsUser"]), int(psc.get("runAsGroup", psc["runAsUser"]))
    if psc.get("runAsNonRoot") or csc.get("runAsNonRoot"):
        assert uid != 0, "runAsNonRoot with uid 0"
    sizes = _volumes(pod)
    return Container(
        name=name,
        image=spec["image"],
        command=list(spec["command"]) + list(spec.get("args", [])),
        env=_resolve_env(spec, rendered),
        uid=uid,
        gid=gid,
        groups=[int(psc["fsGroup"])] if "fsGroup" in psc else [],
        read_only=bool(csc.get("readOnlyRootFilesystem")),
        no_new_privileges=csc.get("allowPrivilegeEscalation") is False,
        cap_drop=list(csc.get("capabilities", {}).get("drop", [])),
        tmpfs={m["mountPath"]: sizes[m["name"]] for m in spec.get("volumeMounts", [])},
        ports={p["name"]: int(p["containerPort"]) for p in spec.get("ports", [])},
    )


def readiness_url(workload: Obj, main: Container) -> str:
    [spec] = [c for c in pod_spec(workload)["containers"] if c["name"] == main.name]
    probe = spec["readinessProbe"]["httpGet"]
    port = probe["port"] if isinstance(probe["port"], int) else main.ports[probe["port"]]
    return f"http://127.0.0.1:{port}{probe['path']}"
