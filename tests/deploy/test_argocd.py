"""Argo CD: every object valid against its CRD schema (copied into tests/deploy/schemas),
the app of apps and the per-environment Applications wired to paths and values files
that exist, values that the chart accepts, and `make argocd-bootstrap` run with a
stand-in kubectl."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "argocd"
CHART = ROOT / "helm" / "delinkcious"
SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_FILES = {
    "Application": "argoproj.io_application_v1alpha1.json",
    "AppProject": "argoproj.io_appproject_v1alpha1.json",
}
IN_CLUSTER = "https://kubernetes.default.svc"


def load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path} is not one YAML object"
    return loaded


def argocd_objects() -> dict[Path, dict[str, Any]]:
    """Every manifest under argocd/ (values files are Helm values, not objects)."""
    return {
        path: load(path) for path in sorted(ARGOCD.rglob("*.yaml")) if ARGOCD / "values" not in path.parents
    }


def applications() -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in argocd_objects().values() if o["kind"] == "Application"}


def root_application() -> dict[str, Any]:
    return load(ARGOCD / "root.yaml")


def environment_applications() -> dict[str, dict[str, Any]]:
    """The Applications the root one syncs, by file name (= environment)."""
    path = ARGOCD / root_application()["spec"]["source"]["path"].removeprefix("argocd/")
    return {p.stem: load(p) for p in sorted(path.glob("*.yaml"))}


def project() -> dict[str, Any]:
    return load(ARGOCD / "project.yaml")


# --- schemas ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(argocd_objects()), ids=lambda p: str(p.relative_to(ARGOCD)))
def test_object_is_valid_against_its_crd_schema(path: Path) -> None:
    obj = argocd_objects()[path]
    assert obj["apiVersion"] == "argoproj.io/v1alpha1"
    assert obj["kind"] in SCHEMA_FILES, f"{path}: no schema for {obj['kind']}"
    schema = json.loads((SCHEMAS / SCHEMA_FILES[obj["kind"]]).read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)
    # The schema leaves metadata open; Argo CD reads Applications only from its own namespace.
    assert obj["metadata"]["namespace"] == "argocd"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", obj["metadata"]["name"])


def test_schema_rejects_an_unknown_field() -> None:
    # The check above means something only if the copied schema is strict.
    schema = json.loads((SCHEMAS / SCHEMA_FILES["Application"]).read_text())
    app = copy.deepcopy(root_application())
    app["spec"]["syncPolicy"]["automated"]["selfheal"] = True
    assert list(jsonschema.Draft7Validator(schema).iter_errors(app))


def test_schemas_carry_their_provenance() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    for name in SCHEMA_FILES.values():
        assert name in readme
    assert "datreeio" in readme and "7b1e26ef9deea49293714d204c1a2270aab1178f" in readme


# --- wiring -----------------------------------------------------------------------------


def test_one_repository_everywhere() -> None:
    repos = {app["spec"]["source"]["repoURL"] for app in applications().values()}
    assert len(repos) == 1, repos
    assert project()["spec"]["sourceRepos"] == sorted(repos)


def test_every_application_is_in_the_project_and_syncs_itself() -> None:
    proj = project()
    allowed = {(d["server"], d["namespace"]) for d in proj["spec"]["destinations"]}
    for name, app in applications().items():
        spec = app["spec"]
        assert spec["project"] == proj["metadata"]["name"], name
        dest = spec["destination"]
        assert (dest["server"], dest["namespace"]) in allowed, f"{name} deploys outside the project"
        assert spec["source"]["targetRevision"] == "main", name
        automated = spec["syncPolicy"]["automated"]
        assert automated == {"prune": True, "selfHeal": True}, name


def test_root_application_is_an_app_of_apps() -> None:
    root = root_application()
    source = root["spec"]["source"]
    assert (ROOT / source["path"]).is_dir()
    assert root["spec"]["destination"] == {"server": IN_CLUSTER, "namespace": "argocd"}
    children = environment_applications()
    assert set(children) == {"staging", "production"}
    # Only Applications in that folder: the root syncs everything it finds there.
    assert {c["kind"] for c in children.values()} == {"Application"}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_environment_deploys_the_chart_with_its_own_values(environment: str) -> None:
    app = environment_applications()[environment]
    source = app["spec"]["source"]
    assert app["metadata"]["name"] == f"delinkcious-{environment}"
    chart = ROOT / source["path"]
    assert chart == CHART and (chart / "Chart.yaml").is_file()
    assert source["helm"]["releaseName"] == "delinkcious"
    [values_file] = source["helm"]["valueFiles"]
    # Argo CD resolves value files relative to the chart folder; they must stay in the repo.
    resolved = (chart / values_file).resolve()
    assert resolved == ARGOCD / "values" / f"{environment}.yaml"
    assert resolved.is_file()
    assert app["spec"]["destination"] == {"server": IN_CLUSTER, "namespace": f"delinkcious-{environment}"}
    assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_every_values_file_belongs_to_one_environment() -> None:
    used = sorted(
        (CHART / f).resolve()
        for app in environment_applications().values()
        for f in app["spec"]["source"]["helm"]["valueFiles"]
    )
    assert used == sorted((ARGOCD / "values").glob("*.yaml"))


# --- values the chart accepts -----------------------------------------------------------


def values_files() -> list[Path]:
    return sorted((ARGOCD / "values").glob("*.yaml"))


def unknown_keys(values: dict[str, Any], defaults: dict[str, Any], prefix: str = "") -> list[str]:
    """Keys of `values` the chart's values.yaml doesn't have; below an empty map anything goes."""
    out = []
    for key, value in values.items():
        where = f"{prefix}{key}"
        if key not in defaults:
            out.append(where)
        elif isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key]:
            out.extend(unknown_keys(value, defaults[key], f"{where}."))
    return out


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a values file over the chart's values.yaml."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("path", values_files(), ids=lambda p: p.name)
def test_values_file_uses_only_keys_the_chart_has(path: Path) -> None:
    defaults = load(CHART / "values.yaml")
    assert unknown_keys(load(path), defaults) == []


@pytest.mark.parametrize("path", values_files(), ids=lambda p: p.name)
def test_values_file_passes_the_chart_schema(path: Path) -> None:
    schema_path = CHART / "values.schema.json"
    values = merged(load(CHART / "values.yaml"), load(path))
    if schema_path.is_file():
        schema = json.loads(schema_path.read_text())
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)
        errors = list(validator.iter_errors(values))
        assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)
    image = values["global"]["image"]
    # The naming contract: <registry>/<service>:<tag>; the tag is empty (appVersion) or a Docker tag.
    assert image["registry"] == "docker.io/delinkcious"
    assert image["tag"] == "" or re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", image["tag"])
    assert image["pullPolicy"] in {"IfNotPresent", "Always"}


@pytest.mark.parametrize("path", values_files(), ids=lambda p: p.name)
def test_values_file_keeps_the_tag_line_ci_rewrites(path: Path) -> None:
    # .circleci/config.yml rewrites the one line `    tag: ...`; it must be global.image.tag.
    lines = [line for line in path.read_text().splitlines() if re.match(r"^    tag: ", line)]
    assert len(lines) == 1
    assert load(path)["global"]["image"]["tag"] == yaml.safe_load(lines[0].strip())["tag"]


def render_as_argocd(environment: str, values: dict[str, Any]) -> dict[str, str]:
    """What Argo CD applies: `helm template` of the chart (no cluster: `lookup` sees nothing)
    with the Application's release name and namespace."""
    source = environment_applications()[environment]["spec"]
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(
            values=values,
            name=source["source"]["helm"]["releaseName"],
            namespace=source["destination"]["namespace"],
            is_install=True,
        )


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    return [
        doc
        for template, text in rendered.items()
        if not template.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_argocd_render_is_stable_and_runs_the_environment_images(environment: str) -> None:
    values = load(ARGOCD / "values" / f"{environment}.yaml")
    first = render_as_argocd(environment, values)
    # Argo CD re-renders on every refresh: any difference is a change it syncs (and self-heal
    # re-applies), so generated secrets would rotate all the time.
    assert render_as_argocd(environment, values) == first
    objects = manifests(first)
    assert not [o for o in objects if o["kind"] == "Secret"], "the chart made a Secret under Argo CD"
    image = values["global"]["image"]
    tag = image["tag"] or load(CHART / "Chart.yaml")["appVersion"]
    images = {
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    assert images == {f"{image['registry']}/{name}:{tag}" for name in names}


def test_chart_defaults_are_not_stable_under_argocd() -> None:
    # Why the environments set secrets.existingSecret: without it two renders differ.
    values = load(ARGOCD / "values" / "staging.yaml")
    values["secrets"]["existingSecret"] = ""
    assert render_as_argocd("staging", values) != render_as_argocd("staging", values)


# --- make argocd-bootstrap --------------------------------------------------------------

KUBECTL = """#!/bin/sh
echo "kubectl $*" >> "$STUB_LOG"
case "$*" in
  "get crd applications.argoproj.io") [ -n "$ARGOCD_INSTALLED" ] || exit 1 ;;
esac
"""


def bootstrap(tmp_path: Path, *, kubectl: bool, argocd_installed: bool) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh"):
        real = shutil.which(tool)
        assert real
        (bin_dir / tool).symlink_to(real)
    if kubectl:
        (bin_dir / "kubectl").write_text(KUBECTL)
        (bin_dir / "kubectl").chmod(0o755)
    env = {"PATH": str(bin_dir), "STUB_LOG": str(tmp_path / "calls.log"), "HOME": str(tmp_path)}
    if argocd_installed:
        env["ARGOCD_INSTALLED"] = "1"
    make = shutil.which("make")
    assert make
    return subprocess.run(
        [make, "--no-print-directory", "-C", str(ROOT), "argocd-bootstrap"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_argocd_bootstrap_applies_the_project_then_the_root(tmp_path: Path) -> None:
    run = bootstrap(tmp_path, kubectl=True, argocd_installed=True)
    assert run.returncode == 0, run.stdout + run.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[-2:] == [
        "kubectl apply -n argocd -f argocd/project.yaml",
        "kubectl apply -n argocd -f argocd/root.yaml",
    ]
    for line in calls[-2:]:
        assert (ROOT / line.split()[-1]).is_file()


def test_make_argocd_bootstrap_explains_a_missing_argocd(tmp_path: Path) -> None:
    run = bootstrap(tmp_path, kubectl=True, argocd_installed=False)
    assert run.returncode != 0
    assert "Argo CD is not installed in this cluster" in run.stdout
    assert "apply" not in (tmp_path / "calls.log").read_text()


def test_make_argocd_bootstrap_explains_a_missing_kubectl(tmp_path: Path) -> None:
    run = bootstrap(tmp_path, kubectl=False, argocd_installed=False)
    assert run.returncode != 0
    assert "needs 'kubectl' on PATH" in run.stdout
