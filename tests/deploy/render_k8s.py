"""Renders k8s/ from the Helm chart: `python -m tests.deploy.render_k8s` (or `make k8s`).

k8s/ is the chart rendered with tests/deploy/values/k8s.yaml (the defaults, minus the Secret
and Helm's test pod), one file per chart template, plus the Namespace and a
kustomization.yaml for `kubectl apply -k k8s/`. A test fails when k8s/ and a fresh render
differ, so after changing the chart, run this and commit the result.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.deploy.chart import K8S, NAMESPACE, load_values, render_manifests

HEADER = (
    "# Generated from helm/delinkcious by `make k8s` (python -m tests.deploy.render_k8s).\n"
    "# Do not edit: change the chart and render again.\n"
)
# Files in k8s/ written by hand, never replaced or removed.
HAND_WRITTEN = {"README.md", "create-secret.sh"}

NAMESPACE_YAML = f"""apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
  labels:
    app.kubernetes.io/part-of: delinkcious
    # Every pod of the release meets the restricted Pod Security Standard; enforce it.
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
"""


def _documents(text: str) -> list[str]:
    docs = []
    for doc in re.split(r"^---[ \t]*$", text, flags=re.MULTILINE):
        lines = [line.rstrip() for line in doc.strip("\n").splitlines()]
        body = "\n".join(lines).strip("\n")
        # A document of comments alone (a template's leading comment) holds no object.
        if any(line.strip() and not line.lstrip().startswith("#") for line in lines):
            docs.append(body + "\n")
    return docs


def k8s_files() -> dict[str, str]:
    """File name in k8s/ -> content."""
    files: dict[str, str] = {}
    for path, text in sorted(render_manifests(load_values("k8s")).items()):
        if path.endswith("NOTES.txt") or "/tests/" in path:
            continue
        docs = _documents(text)
        if docs:
            files[Path(path).name] = HEADER + "---\n".join(docs)
    files["namespace.yaml"] = HEADER + NAMESPACE_YAML
    resources = "".join(
        f"  - {name}\n" for name in ["namespace.yaml", *sorted(n for n in files if n != "namespace.yaml")]
    )
    files["kustomization.yaml"] = (
        HEADER
        + "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        + "kind: Kustomization\n"
        + f"namespace: {NAMESPACE}\n"
        + "resources:\n"
        + resources
    )
    return files


def generated_on_disk(folder: Path = K8S) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.yaml")) if p.name not in HAND_WRITTEN}


def write(folder: Path = K8S) -> list[str]:
    """Writes k8s/ and removes generated files no template produces any more."""
    folder.mkdir(exist_ok=True)
    files = k8s_files()
    changed = []
    for stale in set(generated_on_disk(folder)) - set(files):
        (folder / stale).unlink()
        changed.append(f"removed {stale}")
    for name, content in files.items():
        target = folder / name
        if not target.exists() or target.read_text() != content:
            target.write_text(content)
            changed.append(f"wrote {name}")
    return changed


def main() -> None:
    changed = write()
    print("\n".join(changed) if changed else "k8s/ is up to date", file=sys.stderr)


if __name__ == "__main__":
    main()
