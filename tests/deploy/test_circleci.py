"""The CircleCI pipeline: valid against CircleCI's schema, wired the way the project
works (make targets, test services, one build per service through the one build script),
and its GitOps steps run for real against a local Git remote."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_images import service_packages, settings_class

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATH = ROOT / ".circleci" / "config.yml"
VENV_BIN = Path(sys.executable).parent


def config() -> dict[str, Any]:
    loaded = yaml.safe_load(CONFIG_PATH.read_text())
    assert isinstance(loaded, dict)
    return loaded


def workflow_jobs() -> dict[str, tuple[str, dict[str, Any]]]:
    """{name in the workflow: (job or approval, its settings)}."""
    [workflow] = config()["workflows"].values()
    out = {}
    for entry in workflow["jobs"]:
        job, settings = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        out[settings.get("name", job)] = (job, settings)
    return out


def commands_of(job: str) -> list[str]:
    """Every `run` command of a job, with the reusable commands it uses expanded."""
    cfg = config()
    out: list[str] = []

    def walk(steps: list[Any]) -> None:
        for step in steps:
            name, body = (step, {}) if isinstance(step, str) else next(iter(step.items()))
            if name == "run":
                out.append(body if isinstance(body, str) else body["command"])
            elif name in ("when", "unless"):
                walk(body["steps"])
            elif name in cfg.get("commands", {}):
                walk(cfg["commands"][name]["steps"])

    walk(cfg["jobs"][job]["steps"])
    return out


def test_config_is_valid_against_circleci_schema() -> None:
    run = subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.circle-ci", str(CONFIG_PATH)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_schema_check_rejects_an_unknown_key(tmp_path: Path) -> None:
    bad = tmp_path / "config.yml"
    bad.write_text(CONFIG_PATH.read_text().replace("resource_class: medium", "resource_clas: medium", 1))
    run = subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.circle-ci", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1


def test_workflow_references_only_defined_jobs_and_parameters() -> None:
    cfg = config()
    jobs = workflow_jobs()
    for name, (job, settings) in jobs.items():
        if settings.get("type") == "approval":
            continue
        assert job in cfg["jobs"], f"{name} runs undefined job {job}"
        declared = cfg["jobs"][job].get("parameters", {})
        given = set(settings) - {"name", "requires", "filters", "context", "type"}
        assert given <= set(declared), f"{name} passes undeclared parameters {given - set(declared)}"
        for param, spec in declared.items():
            assert param in given or "default" in spec, f"{name} leaves {param} unset"
        for required in settings.get("requires", []):
            assert required in jobs, f"{name} requires unknown {required}"
    # Every << parameters.x >> a job uses is one it declares.
    for job, body in cfg["jobs"].items():
        used = set(re.findall(r"<< parameters\.(\w+) >>", yaml.safe_dump(body)))
        assert used <= set(body.get("parameters", {})), f"{job} uses undeclared {used}"


def test_lint_and_test_jobs_run_the_make_targets() -> None:
    assert "make lint" in commands_of("lint")
    test_commands = commands_of("test")
    assert any(c.startswith("make test") for c in test_commands)
    # The proto drift check has a step of its own, and the test exists.
    drift = "tests/news/test_proto_drift.py"
    assert any(drift in c for c in test_commands)
    assert (ROOT / drift).is_file()


def test_test_job_has_postgres_redis_and_nats_with_jetstream() -> None:
    primary, *services = config()["jobs"]["test"]["docker"]
    images = {s["image"].split(":")[0]: s for s in services}
    assert set(images) == {"cimg/postgres", "cimg/redis", "nats"}
    assert "-js" in images["nats"]["command"]
    env = primary["environment"]
    pg = images["cimg/postgres"]["environment"]
    assert env["DELINKCIOUS_TEST_POSTGRES_URL"] == (
        f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@localhost:5432/{pg['POSTGRES_DB']}"
    )
    assert env["DELINKCIOUS_TEST_REDIS_URL"].startswith("redis://localhost:6379/")
    assert env["DELINKCIOUS_TEST_NATS_URL"] == "nats://localhost:4222"
    # These are the variables the test fixtures read.
    fixtures = (ROOT / "tests" / "conftest.py").read_text() + (ROOT / "tests" / "databases.py").read_text()
    for name in env:
        assert f'"{name}"' in fixtures, f"no test fixture reads {name}"
    # The tests need Node.js (the OpenID Connect provider) besides Python 3.11.
    assert primary["image"].startswith("cimg/python:3.11") and primary["image"].endswith("-node")


def test_chart_job_lints_and_renders_the_chart_with_every_environment() -> None:
    text = "\n".join(commands_of("chart"))
    assert "helm lint --strict helm/delinkcious" in text
    assert "helm template delinkcious helm/delinkcious" in text
    assert "argocd/values/*.yaml" in text
    assert 'sha256sum -c "${archive}.sha256sum"' in text  # the downloaded helm is verified


def dry_run_services(command: str) -> list[str]:
    """Runs a CI build command with DRY_RUN=1; returns the service Dockerfiles it builds."""
    run = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=ROOT,
        env={**os.environ, "DRY_RUN": "1", "TAG": "abc1234"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    files = []
    for line in run.stdout.splitlines():
        argv = shlex.split(line)
        if argv[:2] == ["docker", "build"]:
            files.append(argv[argv.index("--file") + 1])
    return files


def test_every_service_is_built_and_pushed_on_main() -> None:
    jobs = workflow_jobs()
    job, settings = jobs["images-push"]
    assert job == "images" and settings["push"] is True
    assert settings["filters"] == {"branches": {"only": "main"}}
    assert set(settings["requires"]) == {"lint", "test", "chart"}
    [push] = [c for c in commands_of("images") if "PUSH=1" in c]
    assert push.startswith("PUSH=1") and "scripts/build-images.sh" in push
    built = dry_run_services(push)
    assert built[0] == "Dockerfile.base"
    assert sorted(built[1:]) == [f"services/{p}/Dockerfile" for p in service_packages()]
    pushed = [
        line
        for line in subprocess.run(
            ["bash", "-c", push],
            cwd=ROOT,
            env={**os.environ, "DRY_RUN": "1", "TAG": "abc1234"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        if line.startswith("docker push")
    ]
    names = sorted(settings_class(p).service_name for p in service_packages())
    assert sorted(line.split("/")[-1] for line in pushed) == [f"{n}:abc1234" for n in names]


def test_branches_build_every_image_without_pushing() -> None:
    job, settings = workflow_jobs()["images-build"]
    assert job == "images" and settings["push"] is False
    [build] = [c for c in commands_of("images") if "build-images.sh" in c and "PUSH=1" not in c]
    assert sorted(dry_run_services(build)[1:]) == [f"services/{p}/Dockerfile" for p in service_packages()]


def test_production_is_promoted_only_after_approval() -> None:
    jobs = workflow_jobs()
    assert jobs["deploy-staging"][0] == "gitops"
    assert jobs["deploy-staging"][1]["environment"] == "staging"
    assert jobs["deploy-staging"][1]["requires"] == ["images-push"]
    settings = jobs["approve-production"][1]
    assert settings["type"] == "approval" and settings["requires"] == ["deploy-staging"]
    assert jobs["deploy-production"][1]["environment"] == "production"
    assert jobs["deploy-production"][1]["requires"] == ["approve-production"]
    for name in ("deploy-staging", "approve-production", "deploy-production"):
        assert jobs[name][1]["filters"] == {"branches": {"only": "main"}}
    # The environments CI writes are exactly the values files Argo CD reads.
    enum = config()["jobs"]["gitops"]["parameters"]["environment"]["enum"]
    assert sorted(enum) == sorted(p.stem for p in (ROOT / "argocd" / "values").glob("*.yaml"))


# --- the GitOps job, run for real against a local "origin" ------------------------------


def git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


class Pipeline:
    """A checkout of this repository's argocd/ folder with an origin, and CircleCI's way
    of running steps: `bash -eo pipefail -c`, BASH_ENV sourced before each one."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        home = tmp_path / "home"
        home.mkdir()
        self.origin = tmp_path / "origin.git"
        self.work = tmp_path / "project"
        self.bash_env = tmp_path / "bash_env"
        self.bash_env.touch()
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        # circleci-agent step halt: ends the job successfully; recorded to check it ran.
        agent = bin_dir / "circleci-agent"
        agent.write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path}/halted"\n')
        agent.chmod(0o755)
        gitconfig = tmp_path / "gitconfig"
        self.env = {
            **os.environ,
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "BASH_ENV": str(self.bash_env),
            "CIRCLE_PROJECT_USERNAME": "someone",
            "CIRCLE_PROJECT_REPONAME": "delinkcious",
            "GITOPS_GITHUB_TOKEN": "t0ken",
        }
        git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin), env=self.env)
        # The push URL the job builds from CircleCI's variables lands in the local origin.
        git(
            tmp_path,
            "config",
            "--file",
            str(gitconfig),
            f"url.{self.origin}.insteadOf",
            "https://x-access-token:t0ken@github.com/someone/delinkcious.git",
            env=self.env,
        )
        seed = tmp_path / "seed"
        git(tmp_path, "clone", "--quiet", str(self.origin), str(seed), env=self.env)
        (seed / "argocd" / "values").mkdir(parents=True)
        for values in (ROOT / "argocd" / "values").glob("*.yaml"):
            (seed / "argocd" / "values" / values.name).write_text(values.read_text())
        self.commit(seed, "values")
        git(seed, "push", "--quiet", "origin", "HEAD:main", env=self.env)
        self.seed = seed
        git(tmp_path, "clone", "--quiet", str(self.origin), str(self.work), env=self.env)

    def commit(self, repo: Path, message: str) -> str:
        git(repo, "add", "-A", env=self.env)
        identity = ("-c", "user.name=t", "-c", "user.email=t@t")
        git(repo, *identity, "commit", "--quiet", "-m", message, env=self.env)
        return git(repo, "rev-parse", "HEAD", env=self.env).strip()

    def run_job(self, environment: str, sha: str) -> list[subprocess.CompletedProcess[str]]:
        env = {**self.env, "CIRCLE_SHA1": sha}
        results = []
        for command in commands_of("gitops"):
            command = command.replace("<< parameters.environment >>", environment)
            result = subprocess.run(
                ["bash", "-eo", "pipefail", "-c", command],
                cwd=self.work,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            results.append(result)
            assert result.returncode == 0, result.stdout + result.stderr
            if (self.tmp / "halted").exists():
                break
        return results

    def origin_file(self, environment: str) -> dict[str, Any]:
        text = git(self.origin, "show", f"main:argocd/values/{environment}.yaml", env=self.env)
        loaded = yaml.safe_load(text)
        assert isinstance(loaded, dict)
        return loaded

    def origin_log(self) -> list[str]:
        return git(self.origin, "log", "--format=%s", "main", env=self.env).splitlines()


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_gitops_job_writes_the_commit_tag_and_pushes_to_main(tmp_path: Path, environment: str) -> None:
    pipeline = Pipeline(tmp_path)
    sha = git(pipeline.work, "rev-parse", "HEAD", env=pipeline.env).strip()
    before = pipeline.origin_file(environment)

    pipeline.run_job(environment, sha)

    after = pipeline.origin_file(environment)
    assert after["global"]["image"]["tag"] == sha[:7]
    # Nothing but the tag changed.
    after["global"]["image"]["tag"] = before["global"]["image"]["tag"]
    assert after == before
    assert pipeline.origin_log()[0] == f"{environment}: deploy images {sha[:7]} [skip ci]"


def test_gitops_job_starts_from_the_newest_main(tmp_path: Path) -> None:
    pipeline = Pipeline(tmp_path)
    sha = git(pipeline.work, "rev-parse", "HEAD", env=pipeline.env).strip()
    # Someone pushes an unrelated change after the pipeline's checkout.
    (pipeline.seed / "README.md").write_text("moved on\n")
    pipeline.commit(pipeline.seed, "unrelated")
    git(pipeline.seed, "push", "--quiet", "origin", "HEAD:main", env=pipeline.env)

    pipeline.run_job("staging", sha)

    assert pipeline.origin_file("staging")["global"]["image"]["tag"] == sha[:7]
    assert pipeline.origin_log()[:2] == [f"staging: deploy images {sha[:7]} [skip ci]", "unrelated"]


def test_gitops_job_never_goes_back_to_an_older_commit(tmp_path: Path) -> None:
    pipeline = Pipeline(tmp_path)
    old = git(pipeline.work, "rev-parse", "HEAD", env=pipeline.env).strip()
    # A newer commit's pipeline already deployed it to staging.
    (pipeline.seed / "feature.txt").write_text("new\n")
    newer = pipeline.commit(pipeline.seed, "newer")
    values = pipeline.seed / "argocd" / "values" / "staging.yaml"
    values.write_text(re.sub(r"(?m)^    tag: .*$", f'    tag: "{newer[:7]}"', values.read_text()))
    pipeline.commit(pipeline.seed, "staging: newer")
    git(pipeline.seed, "push", "--quiet", "origin", "HEAD:main", env=pipeline.env)
    log_before = pipeline.origin_log()

    results = pipeline.run_job("staging", old)

    assert (tmp_path / "halted").read_text().strip() == "step halt"
    assert "newer than" in results[-1].stdout
    assert pipeline.origin_log() == log_before
    assert pipeline.origin_file("staging")["global"]["image"]["tag"] == newer[:7]


def test_gitops_job_does_nothing_when_the_tag_is_already_there(tmp_path: Path) -> None:
    pipeline = Pipeline(tmp_path)
    sha = git(pipeline.work, "rev-parse", "HEAD", env=pipeline.env).strip()
    pipeline.run_job("staging", sha)
    log_once = pipeline.origin_log()
    pipeline.run_job("staging", sha)
    assert pipeline.origin_log() == log_once
