"""The process specs `make run` starts: environment, databases, secrets, wiring."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from delinkcious.localrun.catalog import SERVICES, select
from delinkcious.localrun.plan import PlanError, plan
from delinkcious.localrun.secretfile import LocalSecrets
from delinkcious.localrun.system import default_data_dir
from tests.localrun.helpers import REPO_ROOT, caller_env, pinned_ports, planned


def test_every_service_is_planned_with_its_module_host_and_port(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets)
    assert list(specs) == [
        "nats",
        "redis",
        "link-manager",
        "user-manager",
        "social-graph-manager",
        "news-manager",
        "link-checker",
        "api-gateway",
    ]
    modules = {name: spec.argv for name, spec in specs.items()}
    assert modules["link-manager"] == (sys.executable, "-m", "link_service")
    assert modules["user-manager"] == (sys.executable, "-m", "user_service")
    assert modules["social-graph-manager"] == (sys.executable, "-m", "social_graph_service")
    assert modules["news-manager"] == (sys.executable, "-m", "news_service")
    assert modules["link-checker"] == (sys.executable, "-m", "link_checker")
    assert modules["api-gateway"] == (sys.executable, "-m", "api_gateway")
    for name, spec in specs.items():
        assert spec.env["HOST"] == "127.0.0.1"
        assert spec.env["PORT"] == str(spec.port)
        if name in ("nats", "redis"):
            assert spec.ready_url == f"tcp://127.0.0.1:{spec.port}"
        elif name == "news-manager":
            assert spec.ready_url == f"http://127.0.0.1:{spec.env['HTTP_PORT']}/readyz"
        else:
            assert spec.ready_url == f"http://127.0.0.1:{spec.port}/readyz"
    assert len({spec.port for spec in specs.values()}) == len(specs)


def test_the_callers_environment_reaches_every_service(tmp_path: Path, secrets: LocalSecrets) -> None:
    specs = planned(tmp_path, secrets, DLK_SOMETHING="kept", MAX_LINKS_PER_USER="3", LOG_LEVEL="DEBUG")
    for spec in specs.values():
        assert spec.env["DLK_SOMETHING"] == "kept"
        assert spec.env["LOG_LEVEL"] == "DEBUG"
    assert specs["link-manager"].env["MAX_LINKS_PER_USER"] == "3"


def test_log_level_defaults_to_info(tmp_path: Path, secrets: LocalSecrets) -> None:
    env = caller_env(**pinned_ports())
    env.pop("LOG_LEVEL", None)
    for spec in plan(SERVICES, data_dir=tmp_path, env=env, secrets=secrets):
        assert spec.env["LOG_LEVEL"] == "INFO"


def test_calls_between_local_services_bypass_any_proxy(tmp_path: Path, secrets: LocalSecrets) -> None:
    specs = planned(tmp_path, secrets, NO_PROXY="corp.example")
    for spec in specs.values():
        assert spec.env["NO_PROXY"] == spec.env["no_proxy"] == "corp.example,127.0.0.1,localhost"


def test_databases_default_to_sqlite_files_in_the_data_folder(tmp_path: Path, secrets: LocalSecrets) -> None:
    specs = planned(tmp_path, secrets)
    data = tmp_path.resolve()
    assert specs["link-manager"].env["LINK_MANAGER_DATABASE_URL"] == f"sqlite:///{data}/link_manager.db"
    assert specs["user-manager"].env["USER_MANAGER_DATABASE_URL"] == f"sqlite:///{data}/user_manager.db"
    social = specs["social-graph-manager"].env["SOCIAL_GRAPH_MANAGER_DATABASE_URL"]
    assert social == f"sqlite:///{data}/social_graph_manager.db"


def test_a_database_url_from_the_caller_replaces_the_sqlite_default(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    url = "postgresql://dlk@127.0.0.1:5432/link_manager"
    specs = planned(tmp_path, secrets, LINK_MANAGER_DATABASE_URL=url)
    assert specs["link-manager"].env["LINK_MANAGER_DATABASE_URL"] == url
    assert "database from LINK_MANAGER_DATABASE_URL" in specs["link-manager"].notes
    assert specs["user-manager"].env["USER_MANAGER_DATABASE_URL"].startswith("sqlite:///")


def test_each_service_accepts_exactly_its_callers_with_the_shared_secrets(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets)
    accepted = {
        name: json.loads(spec.env["CALLER_TOKENS"])
        for name, spec in specs.items()
        if "CALLER_TOKENS" in spec.env
    }
    assert set(accepted) == {
        "link-manager",
        "user-manager",
        "social-graph-manager",
        "news-manager",
        "link-checker",
    }
    assert set(accepted["news-manager"]) == {"api-gateway"}
    assert set(accepted["link-checker"]) == {"link-manager"}
    assert set(accepted["link-manager"]) == {"api-gateway", "link-checker"}
    assert set(accepted["user-manager"]) == {"api-gateway", "social-graph-manager"}
    assert set(accepted["social-graph-manager"]) == {"api-gateway", "news-manager"}
    for tokens in accepted.values():
        assert all(tokens[caller] == secrets.caller_tokens[caller] for caller in tokens)


def test_social_graph_presents_the_secret_user_manager_expects_at_its_url(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets)
    social, users = specs["social-graph-manager"].env, specs["user-manager"]
    assert social["CALLER_TOKEN"] == json.loads(users.env["CALLER_TOKENS"])["social-graph-manager"]
    assert social["USER_MANAGER_URL"] == users.url
    assert "CALLER_TOKEN" not in specs["link-manager"].env


def test_page_token_keys_are_per_service(tmp_path: Path, secrets: LocalSecrets) -> None:
    specs = planned(tmp_path, secrets)
    link, social = specs["link-manager"].env, specs["social-graph-manager"].env
    assert link["PAGE_TOKEN_KEY"] == secrets.page_token_keys["link-manager"]
    assert social["PAGE_TOKEN_KEY"] == secrets.page_token_keys["social-graph-manager"]
    assert link["PAGE_TOKEN_KEY"] != social["PAGE_TOKEN_KEY"]


def test_a_selection_plans_only_the_named_services(tmp_path: Path, secrets: LocalSecrets) -> None:
    assert list(planned(tmp_path, secrets, only={"user-manager"})) == ["user-manager"]
    with pytest.raises(ValueError, match="unknown service api-gatewy"):
        select(SERVICES, {"api-gatewy"})


def test_a_service_whose_dependency_is_left_out_needs_its_url(tmp_path: Path, secrets: LocalSecrets) -> None:
    with pytest.raises(PlanError, match=r"social-graph-manager needs user-manager: .* set USER_MANAGER_URL"):
        planned(tmp_path, secrets, only={"social-graph-manager"})
    given = planned(tmp_path, secrets, only={"social-graph-manager"}, USER_MANAGER_URL="http://10.1.2.3:7070")
    assert given["social-graph-manager"].env["USER_MANAGER_URL"] == "http://10.1.2.3:7070"


def test_the_data_folder_defaults_to_dot_data_at_the_repository_root(tmp_path: Path) -> None:
    assert default_data_dir({}) == REPO_ROOT / ".data"
    assert default_data_dir({"DELINKCIOUS_DATA_DIR": str(tmp_path)}) == tmp_path.resolve()
