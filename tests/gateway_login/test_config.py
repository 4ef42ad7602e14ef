"""Which login routes exist follows the configuration; the OpenAPI document describes them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from api_gateway.settings import GatewaySettings
from tests.conftest import CALLER_SECRETS
from tests.gateway_login.conftest import SESSION_SECRET, assert_error, running_gateway

LOGIN_ROUTES = ("/login/github", "/login/github/callback", "/login/oidc", "/login/oidc/callback")
# Nothing behind the gateway is called by these tests: the backends are never reached.
UNUSED_BACKEND = "http://127.0.0.1:9"
GITHUB = {"GITHUB_CLIENT_ID": "Iv1.config-test", "GITHUB_CLIENT_SECRET": "config-test-client-secret"}
OIDC = {"OIDC_ISSUER": "http://127.0.0.1:9", "OIDC_CLIENT_ID": "config-test"}


def settings(**values: Any) -> GatewaySettings:
    base: dict[str, Any] = {"CALLER_TOKEN": CALLER_SECRETS["api-gateway"], "USER_MANAGER_URL": UNUSED_BACKEND}
    return GatewaySettings(**{**base, **values})


def test_without_providers_every_login_route_is_404() -> None:
    with running_gateway(settings()) as gateway:
        for path in LOGIN_ROUTES:
            assert_error(gateway.get(path), 404, "not_found")
        assert not any(path.startswith("/login/") for path in gateway.get("/openapi.json").json()["paths"])


def test_only_the_configured_provider_has_routes() -> None:
    with running_gateway(settings(SESSION_SECRET=SESSION_SECRET, **GITHUB)) as gateway:
        assert gateway.get("/login/github").status_code == 302
        assert_error(gateway.get("/login/oidc"), 404, "not_found")
        assert_error(gateway.get("/login/oidc/callback?code=x&state=y"), 404, "not_found")


def test_the_login_cookie_is_secure_behind_https() -> None:
    values = {"SESSION_SECRET": SESSION_SECRET, "PUBLIC_URL": "https://delinkcious.example.com", **GITHUB}
    with running_gateway(settings(**values)) as gateway:
        start = gateway.get("/login/github")
    assert "Secure" in start.headers["set-cookie"]
    assert (
        "redirect_uri=https%3A%2F%2Fdelinkcious.example.com%2Flogin%2Fgithub%2Fcallback"
        in (start.headers["location"])
    )


@pytest.mark.parametrize("provider", [GITHUB, OIDC])
@pytest.mark.parametrize("secret", [None, "too-short-secret"])
def test_a_provider_needs_a_session_secret(provider: dict[str, str], secret: str | None) -> None:
    values = {**provider, **({"SESSION_SECRET": secret} if secret else {})}
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        settings(**values)


def test_github_client_id_and_secret_go_together() -> None:
    with pytest.raises(ValidationError, match="GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"):
        settings(SESSION_SECRET=SESSION_SECRET, GITHUB_CLIENT_ID="Iv1.alone")


def test_openapi_describes_the_login_routes() -> None:
    with running_gateway(settings(SESSION_SECRET=SESSION_SECRET, **GITHUB, **OIDC)) as gateway:
        paths = gateway.get("/openapi.json").json()["paths"]

    for provider in ("github", "oidc"):
        start = paths[f"/login/{provider}"]["get"]["responses"]
        assert "Location" in start["302"]["headers"]
        finish = paths[f"/login/{provider}/callback"]["get"]
        responses = finish["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/LoginResponse")
        for status in ("401", "409", "503"):
            assert responses[status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
        assert {p["name"] for p in finish["parameters"]} >= {"code", "state", "error"}
    assert paths["/login/oidc"]["get"]["responses"]["503"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("/ErrorBody")


def test_secrets_stay_out_of_the_openapi_document() -> None:
    with running_gateway(settings(SESSION_SECRET=SESSION_SECRET, **GITHUB)) as gateway:
        document = gateway.get("/openapi.json").text
    assert GITHUB["GITHUB_CLIENT_SECRET"] not in document and SESSION_SECRET not in document
