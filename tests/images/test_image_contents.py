"""Each service image as built: who it runs as, what it holds, how it is labelled, what
it exposes, and that it starts without compiling a single module."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.chart import chart_values
from tests.images.report import Report, Row
from tests.images.system import image_registry, podman

ROOT = Path(__file__).resolve().parents[2]
SERVICES = chart_values()["services"]
PYC_TAG = "cpython-311"


def image(name: str, tag: str) -> str:
    return f"{image_registry()}/{name}:{tag}"


def inspect(ref: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(podman("image", "inspect", ref).stdout)
    assert len(found) == 1, ref
    return found[0]


@pytest.fixture(scope="module", params=sorted(SERVICES))
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def root(service: str, tag: str) -> Iterator[Path]:
    """The image's filesystem, mounted read-only for inspection."""
    ref = image(service, tag)
    path = Path(podman("image", "mount", ref).stdout.strip())
    yield path
    podman("image", "unmount", ref, check=False)


def test_runs_as_uid_10001_with_the_chart_command(service: str, tag: str) -> None:
    config = inspect(image(service, tag))["Config"]
    assert config["User"] == "10001:10001"
    assert config["Cmd"] == ["python", "-m", SERVICES[service]["module"]]
    assert not config.get("Entrypoint")


def test_labels_name_the_service_its_source_and_its_commit(service: str, tag: str) -> None:
    labels = inspect(image(service, tag))["Config"]["Labels"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert labels["org.opencontainers.image.title"] == service
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/")
    assert labels["org.opencontainers.image.revision"] == head.stdout.strip()
    assert labels["org.opencontainers.image.version"] == tag


def test_exposes_the_ports_the_chart_probes(service: str, tag: str) -> None:
    exposed = set(inspect(image(service, tag))["Config"].get("ExposedPorts", {}))
    values = SERVICES[service]
    # The HTTP port serves the probes; a gRPC service also its own port.
    wanted = {values["port"], values.get("httpPort", values["port"])}
    assert exposed == {f"{p}/tcp" for p in wanted}


def test_no_installer_is_left(root: Path) -> None:
    found = [
        str(p.relative_to(root))
        for pattern in ("pip", "pip-*", "setuptools", "setuptools-*", "_distutils_hack")
        for p in root.glob(f"**/*-packages/{pattern}")
    ]
    found += [str(p.relative_to(root)) for p in (root / "opt/venv/bin").glob("pip*")]
    found += [str(p.relative_to(root)) for p in (root / "usr/local/bin").glob("pip*")]
    assert found == []


def test_code_is_present_owned_by_root_and_compiled(root: Path, service: str) -> None:
    package = SERVICES[service]["module"]
    needed = [
        root / "app/pkg/delinkcious/__init__.py",
        root / f"app/services/{package}/__main__.py",
        root / "opt/venv/bin/python",
    ]
    for path in needed:
        assert os.path.lexists(path), path
    for base in (root / "app", root / "opt/venv"):
        for path in [base, *base.rglob("*")]:
            if path.is_symlink():
                continue
            info = path.lstat()
            assert info.st_uid == 0 and info.st_gid == 0, f"{path.relative_to(root)} is not root's"
            assert not info.st_mode & 0o022, f"{path.relative_to(root)} is writable by others"
    # Only the service's own package and the shared library.
    assert sorted(p.name for p in (root / "app/services").iterdir()) == [package]
    for source in (root / "app").rglob("*.py"):
        pyc = source.parent / "__pycache__" / f"{source.stem}.{PYC_TAG}.pyc"
        assert pyc.is_file(), f"no byte code for {source.relative_to(root)}"


def test_sizes(service: str, tag: str, report: Report) -> None:
    size = inspect(image(service, tag))["Size"] / 1e6
    report.rows.setdefault(service, Row(size_mb=size)).size_mb = size
    # The bases `make test-images` built on (it names them).
    base, standin = os.environ.get("DELINKCIOUS_IMAGE_BASE"), os.environ.get("DELINKCIOUS_IMAGE_STANDIN")
    if base:
        base_size = inspect(base)["Size"] / 1e6
        report.base_size_mb = base_size
        # A service image is its base plus its code and byte code: a few megabytes.
        assert size - base_size < 10, f"{service} adds {size - base_size:.1f} MB to the base"
    if standin:
        report.standin_size_mb = inspect(standin)["Size"] / 1e6
