"""The gateway, news-manager and link-checker in the local run: their wiring and the
local defaults a caller can override."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest

from delinkcious.localrun.catalog import SERVICES, ServiceDef
from delinkcious.localrun.plan import PlanError, plan
from delinkcious.localrun.ports import free_port, is_free
from delinkcious.localrun.secretfile import LocalSecrets
from tests.localrun.helpers import caller_env, pinned_ports, planned, table_secrets


def test_news_manager_gets_its_own_free_http_port_and_is_probed_there(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets, NEWS_MANAGER_HTTP_PORT="")  # chosen by the runner
    news = specs["news-manager"]
    http_port = int(news.env["HTTP_PORT"])
    assert http_port not in {spec.port for spec in specs.values()}
    assert is_free(http_port)
    assert news.ready_url == f"http://127.0.0.1:{http_port}/readyz"


def news_preferring_http_port(port: int) -> tuple[ServiceDef, ...]:
    """The table, with news-manager's usual HTTP port (6061) replaced by `port`."""
    return tuple(replace(s, http_default_port=port) if s.name == "news-manager" else s for s in SERVICES)


def test_news_managers_http_port_avoids_a_port_pinned_for_another_service(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    wanted = free_port()
    env = caller_env(**{**pinned_ports(), "LINK_CHECKER_PORT": str(wanted), "NEWS_MANAGER_HTTP_PORT": ""})
    specs = {
        s.name: s
        for s in plan(news_preferring_http_port(wanted), data_dir=tmp_path, env=env, secrets=secrets)
    }
    assert specs["link-checker"].port == wanted
    assert specs["news-manager"].env["HTTP_PORT"] != str(wanted)


def test_news_manager_http_port_pins_its_http_port(tmp_path: Path, secrets: LocalSecrets) -> None:
    port = free_port()
    news = planned(tmp_path, secrets, NEWS_MANAGER_HTTP_PORT=str(port))["news-manager"]
    assert news.env["HTTP_PORT"] == str(port)
    assert news.ready_url == f"http://127.0.0.1:{port}/readyz"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(PlanError, match=f"port {taken} \\(NEWS_MANAGER_HTTP_PORT\\) is already in use"):
            planned(tmp_path, secrets, NEWS_MANAGER_HTTP_PORT=str(taken))
    with pytest.raises(PlanError, match="NEWS_MANAGER_HTTP_PORT='http' is not a port number"):
        planned(tmp_path, secrets, NEWS_MANAGER_HTTP_PORT="http")


def test_a_pinned_http_port_is_kept_free_of_other_services_fallbacks(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    port = free_port()
    # link-checker would prefer the very port pinned for news-manager's HTTP.
    table = tuple(replace(s, default_port=port) if s.name == "link-checker" else s for s in SERVICES)
    env = {**pinned_ports(), "LINK_CHECKER_PORT": "", "NEWS_MANAGER_HTTP_PORT": str(port)}
    specs = {s.name: s for s in plan(table, data_dir=tmp_path, env=caller_env(**env), secrets=secrets)}
    assert specs["news-manager"].env["HTTP_PORT"] == str(port)
    assert specs["link-checker"].port != port
    assert f"port {port} is taken, using {specs['link-checker'].port}" in specs["link-checker"].notes


def test_news_managers_http_port_avoids_a_port_in_use(tmp_path: Path, secrets: LocalSecrets) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        env = caller_env(**{**pinned_ports(), "NEWS_MANAGER_HTTP_PORT": ""})
        [news] = [
            s
            for s in plan(news_preferring_http_port(taken), data_dir=tmp_path, env=env, secrets=secrets)
            if s.name == "news-manager"
        ]
    assert news.env["HTTP_PORT"] != str(taken)
    assert news.ready_url == f"http://127.0.0.1:{news.env['HTTP_PORT']}/readyz"
    assert f"HTTP port {taken} is taken, using {news.env['HTTP_PORT']}" in news.notes


def test_the_gateway_reaches_news_manager_by_host_and_port_not_by_url(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets)
    news, gateway = specs["news-manager"], specs["api-gateway"]
    assert news.url == f"127.0.0.1:{news.port}"
    assert gateway.env["NEWS_MANAGER_TARGET"] == news.url
    assert gateway.env["LINK_MANAGER_URL"] == specs["link-manager"].url
    assert gateway.env["USER_MANAGER_URL"] == specs["user-manager"].url
    assert gateway.env["SOCIAL_GRAPH_MANAGER_URL"] == specs["social-graph-manager"].url
    assert news.env["SOCIAL_GRAPH_MANAGER_URL"] == specs["social-graph-manager"].url


def test_gateway_port_pins_the_gateway(tmp_path: Path, secrets: LocalSecrets) -> None:
    port = free_port()
    gateway = planned(tmp_path, secrets, GATEWAY_PORT=str(port))["api-gateway"]
    assert gateway.port == port
    assert gateway.url == f"http://127.0.0.1:{port}"
    assert gateway.env["PORT"] == str(port)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(
            PlanError, match=f"api-gateway: port {taken} \\(GATEWAY_PORT\\) is already in use"
        ):
            planned(tmp_path, secrets, GATEWAY_PORT=str(taken))


def test_dev_login_is_on_and_the_public_url_is_the_gateways_own_by_default(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets)
    gateway = specs["api-gateway"]
    assert gateway.env["DEV_LOGIN"] == "true"
    assert gateway.env["PUBLIC_URL"] == gateway.url
    # Only the gateway: no other service has a use for them.
    assert all(
        "DEV_LOGIN" not in s.env and "PUBLIC_URL" not in s.env for s in specs.values() if s is not gateway
    )


def test_the_callers_dev_login_and_public_url_win(tmp_path: Path, secrets: LocalSecrets) -> None:
    gateway = planned(tmp_path, secrets, DEV_LOGIN="false", PUBLIC_URL="https://x")["api-gateway"]
    assert gateway.env["DEV_LOGIN"] == "false"
    assert gateway.env["PUBLIC_URL"] == "https://x"


def test_link_checker_may_check_local_pages_unless_the_caller_says_otherwise(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets)
    assert specs["link-checker"].env["LINK_CHECKER_ALLOW_PRIVATE_NETWORKS"] == "true"
    assert "LINK_CHECKER_ALLOW_PRIVATE_NETWORKS" not in specs["link-manager"].env
    strict = planned(tmp_path, secrets, LINK_CHECKER_ALLOW_PRIVATE_NETWORKS="false")
    assert strict["link-checker"].env["LINK_CHECKER_ALLOW_PRIVATE_NETWORKS"] == "false"


def test_the_session_secret_is_made_once_kept_in_the_secrets_file_and_given_only_to_the_gateway(
    tmp_path: Path, secrets: LocalSecrets
) -> None:
    specs = planned(tmp_path, secrets)
    secret = specs["api-gateway"].env["SESSION_SECRET"]
    assert len(secret) >= 32  # the gateway refuses a shorter one once a social login is on
    assert secret == secrets.page_token_keys["api-gateway.session"]
    assert secret not in {*secrets.caller_tokens.values(), specs["link-manager"].env["PAGE_TOKEN_KEY"]}
    assert all("SESSION_SECRET" not in s.env for name, s in specs.items() if name != "api-gateway")
    # The next run reads the same file: login cookies issued before a restart stay valid.
    again = planned(tmp_path, table_secrets(tmp_path))
    assert again["api-gateway"].env["SESSION_SECRET"] == secret


def test_the_callers_session_secret_wins(tmp_path: Path, secrets: LocalSecrets) -> None:
    mine = "a-session-secret-of-my-own-0123456789"
    gateway = planned(tmp_path, secrets, SESSION_SECRET=mine)["api-gateway"]
    assert gateway.env["SESSION_SECRET"] == mine
