"""k8s/ is the chart rendered (no drift), `kubectl kustomize k8s/` builds valid objects in
the release's namespace, and create-secret.sh makes exactly the Secret the manifests read."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.chart import K8S, KUBE_VERSIONS, NAMESPACE, render_set
from tests.deploy.fit import secret_refs
from tests.deploy.render_k8s import generated_on_disk, k8s_files, write

KUBECTL = Path(sys.executable).parent / "kubectl"


def test_k8s_folder_is_the_chart_rendered() -> None:
    fresh = k8s_files()
    on_disk = generated_on_disk()
    assert sorted(on_disk) == sorted(fresh), "run `make k8s`: files differ"
    stale = [name for name in fresh if on_disk[name] != fresh[name]]
    assert not stale, f"k8s/ differs from the chart in {stale}: run `make k8s` and commit"


def test_render_k8s_writes_and_prunes(tmp_path: Path) -> None:
    (tmp_path / "old-template.yaml").write_text("# Generated\nkind: ConfigMap\n")
    (tmp_path / "README.md").write_text("kept")
    write(tmp_path)
    assert generated_on_disk(tmp_path) == k8s_files()
    assert (tmp_path / "README.md").read_text() == "kept"
    assert write(tmp_path) == [], "a second run changes nothing"


def kustomize_build() -> list[dict]:
    out = subprocess.run([str(KUBECTL), "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_kustomize_builds_the_same_objects_in_the_namespace() -> None:
    built = kustomize_build()
    expected = {(o["kind"], o["metadata"]["name"]) for o in render_set("k8s").all()} | {
        ("Namespace", NAMESPACE)
    }
    assert {(o["kind"], o["metadata"]["name"]) for o in built} == expected
    for obj in built:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]
    for kube in KUBE_VERSIONS:
        for obj in built:
            kubernetes_validate.validate(obj, kube, strict=True)


def test_k8s_has_no_secret_values_and_no_helm_hooks() -> None:
    for obj in kustomize_build():
        assert obj["kind"] != "Secret"
        assert "helm.sh/hook" not in (obj["metadata"].get("annotations") or {})


def run_create_secret(tmp_path: Path, *, exists: bool = False) -> list[str]:
    """Runs create-secret.sh with a stand-in kubectl that records its arguments."""
    record = tmp_path / "calls"
    fake = tmp_path / "bin" / "kubectl"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> "{record}"\n'
        # `get secret` answers "found" only when asked to pretend it exists.
        f'case "$*" in *"get secret"*) exit {0 if exists else 1};; esac\n'
        "exit 0\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {"PATH": f"{fake.parent}:{os.environ['PATH']}", "NAMESPACE": "bookmarks"}
    result = subprocess.run(
        ["bash", str(K8S / "create-secret.sh")], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return record.read_text().splitlines()


def test_create_secret_makes_every_key_the_manifests_read(tmp_path: Path) -> None:
    calls = run_create_secret(tmp_path)
    [create] = [c for c in calls if "create secret generic" in c]
    assert create.startswith("-n bookmarks create secret generic delinkcious-secrets ")
    values = dict(re.findall(r"--from-literal=([a-z0-9-]+)=(\S+)", create))
    [(name, keys)] = secret_refs(render_set("k8s")).items()
    assert name == "delinkcious-secrets"
    assert set(values) == keys
    for key, value in values.items():
        assert re.fullmatch(r"[0-9a-f]{48}", value), key
    (tmp_path / "again").mkdir()
    [create_again] = [c for c in run_create_secret(tmp_path / "again") if "create secret generic" in c]
    again = dict(re.findall(r"--from-literal=([a-z0-9-]+)=(\S+)", create_again))
    assert all(again[k] != values[k] for k in values), "every run draws new values"


def test_create_secret_never_replaces_an_existing_secret(tmp_path: Path) -> None:
    calls = run_create_secret(tmp_path, exists=True)
    assert not [c for c in calls if "create secret" in c]


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_every_generated_file_says_how_to_regenerate_it(path: Path) -> None:
    assert path.read_text().startswith("# Generated from helm/delinkcious by `make k8s`")


def test_readme_documents_the_secret_and_the_commands() -> None:
    readme = (K8S / "README.md").read_text()
    for needle in ("./k8s/create-secret.sh", "kubectl apply -k k8s/", "make k8s", "delinkcious-secrets"):
        assert needle in readme
