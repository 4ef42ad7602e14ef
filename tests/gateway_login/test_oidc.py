"""Signing in with OpenID Connect against a real provider (oidc-provider on Node, see
tests/oidc_provider), driven through its login and consent forms by a headless browser."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from api_gateway.login.cookies import LoginCookies, cookie_name
from tests.gateway_login.conftest import (
    OIDC_CLIENT_ID,
    PUBLIC_URL,
    SESSION_SECRET,
    assert_error,
    callback,
    oidc_settings,
    running_gateway,
    with_query,
)
from tests.gateway_login.providers import Browser, OidcProviderProcess

COOKIE = cookie_name("oidc")


def start(gateway: TestClient) -> tuple[str, str]:
    """Starts a login; returns the provider URL and the login cookie it set."""
    response = gateway.get("/login/oidc")
    assert response.status_code == 302, response.text
    return response.headers["location"], response.cookies[COOKIE]


def with_cookie(gateway: TestClient, url: str, cookie: str) -> httpx.Response:
    """The callback as a browser holding exactly this login cookie would send it."""
    gateway.cookies.clear()
    parts = urlsplit(url)
    return gateway.get(f"{parts.path}?{parts.query}", headers={"Cookie": f"{COOKIE}={cookie}"})


def test_login_issues_a_token_that_works(
    oidc_gateway: TestClient, oidc_provider: OidcProviderProcess, browser: Browser
) -> None:
    response = oidc_gateway.get("/login/oidc")
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(f"{oidc_provider.issuer}/auth?")
    query = parse_qs(urlsplit(location).query)
    assert query["client_id"] == [OIDC_CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["openid profile email"]
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/login/oidc/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert oidc_provider.client_secret not in location
    set_cookie = response.headers["set-cookie"]
    for attribute in ("HttpOnly", "Max-Age=600", "Path=/login", "SameSite=lax"):
        assert attribute in set_cookie
    assert "Secure" not in set_cookie  # PUBLIC_URL is http here

    response = callback(oidc_gateway, browser.sign_in(location, "Alice-Liddell"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert body["user"]["username"] == "alice-liddell"
    assert body["user"]["name"] == "Test Alice-Liddell"
    assert body["user"]["email"] == "Alice-Liddell@example.org"
    assert oidc_provider.client_secret not in response.text
    assert "Max-Age=0" in response.headers["set-cookie"]  # the login cookie is done with

    me = oidc_gateway.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "alice-liddell"


def test_the_same_person_signs_in_again_as_the_same_user(oidc_gateway: TestClient, browser: Browser) -> None:
    first = callback(oidc_gateway, browser.sign_in(start(oidc_gateway)[0], "Bob-Again"))
    assert first.status_code == 200, first.text
    # Still signed in at the provider: it sends the browser straight back.
    second = callback(oidc_gateway, browser.sign_in(start(oidc_gateway)[0], "Bob-Again"))
    assert second.status_code == 200, second.text
    assert second.json()["user"] == first.json()["user"]
    assert second.json()["access_token"] != first.json()["access_token"]


def test_a_replayed_callback_is_refused(oidc_gateway: TestClient, browser: Browser) -> None:
    location, cookie = start(oidc_gateway)
    url = browser.sign_in(location, "carol-replay")
    assert with_cookie(oidc_gateway, url, cookie).status_code == 200

    assert_error(with_cookie(oidc_gateway, url, cookie), 401, "unauthenticated", "already used")


def test_a_failed_callback_cannot_be_retried(
    oidc_gateway: TestClient, oidc_provider: OidcProviderProcess, browser: Browser
) -> None:
    location, cookie = start(oidc_gateway)
    url = browser.sign_in(location, "dave-retry")
    oidc_provider.tamper_next_id_token("expired")
    assert_error(with_cookie(oidc_gateway, url, cookie), 401, "unauthenticated")

    assert_error(with_cookie(oidc_gateway, url, cookie), 401, "unauthenticated", "already used")


def test_an_id_token_for_another_nonce_is_refused(oidc_gateway: TestClient, browser: Browser) -> None:
    location, cookie = start(oidc_gateway)
    url = browser.sign_in(location, "erin-nonce")
    cookies = LoginCookies(SESSION_SECRET, secure=False)
    pending = cookies.decode("oidc", cookie)
    # A correctly signed cookie for this very state and verifier, but another nonce:
    # only the ID token's nonce check can catch it.
    crafted = cookies.encode(replace(pending, nonce="a-nonce-this-login-never-sent"))

    assert_error(with_cookie(oidc_gateway, url, crafted), 401, "unauthenticated", "nonce")


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("foreign-key", "signature"),
        ("payload", "signature"),
        ("alg-none", "signature"),
        ("issuer", "iss"),
        ("audience", "aud"),
        ("expired", "expired"),
    ],
)
def test_a_forged_id_token_is_refused(
    oidc_gateway: TestClient, oidc_provider: OidcProviderProcess, browser: Browser, mode: str, why: str
) -> None:
    url = browser.sign_in(start(oidc_gateway)[0], f"forged-{mode}")
    oidc_provider.tamper_next_id_token(mode)

    assert_error(callback(oidc_gateway, url), 401, "unauthenticated", "ID token", why)


def test_a_refusal_at_the_provider_is_unauthenticated(oidc_gateway: TestClient, browser: Browser) -> None:
    url = browser.sign_in(start(oidc_gateway)[0], "", abort=True)
    assert "error=access_denied" in url

    assert_error(callback(oidc_gateway, url), 401, "unauthenticated", "access_denied")


def test_a_callback_for_another_browsers_login_is_refused(oidc_gateway: TestClient, browser: Browser) -> None:
    # Login CSRF: the attacker signs in, then gets the victim's browser to land on the
    # callback with the attacker's code and state.
    attackers_location, _ = start(oidc_gateway)
    attackers_url = browser.sign_in(attackers_location, "mallory")
    _, victims_cookie = start(oidc_gateway)  # the victim has a login of their own in progress

    response = with_cookie(oidc_gateway, attackers_url, victims_cookie)
    assert_error(response, 401, "unauthenticated", "state does not match")


def test_a_response_naming_another_issuer_is_refused(oidc_gateway: TestClient, browser: Browser) -> None:
    # RFC 9207: the provider names itself in the response; another name means a mix-up.
    url = browser.sign_in(start(oidc_gateway)[0], "ivan-mixup")
    assert "iss=" in url

    response = callback(oidc_gateway, with_query(url, iss="https://idp.example.net"))
    assert_error(response, 401, "unauthenticated", "iss mismatch")


def test_a_callback_without_the_login_cookie_is_refused(oidc_gateway: TestClient, browser: Browser) -> None:
    url = browser.sign_in(start(oidc_gateway)[0], "frank-nocookie")
    oidc_gateway.cookies.clear()

    assert_error(callback(oidc_gateway, url), 401, "unauthenticated", "no login in progress")


def test_a_forged_login_cookie_is_refused(oidc_gateway: TestClient, browser: Browser) -> None:
    location, cookie = start(oidc_gateway)
    url = browser.sign_in(location, "grace-forged")
    pending = LoginCookies(SESSION_SECRET, secure=False).decode("oidc", cookie)
    other_secret = LoginCookies("another-session-secret-0123456789abcdef", secure=False).encode(pending)
    flipped = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]

    for forged in (other_secret, flipped, "not-a-cookie"):
        assert_error(
            with_cookie(oidc_gateway, url, forged), 401, "unauthenticated", "login cookie is invalid"
        )
    assert with_cookie(oidc_gateway, url, cookie).status_code == 200  # the real one still works


def test_a_callback_with_a_state_but_no_code_is_refused(oidc_gateway: TestClient) -> None:
    location, cookie = start(oidc_gateway)
    state = parse_qs(urlsplit(location).query)["state"][0]
    response = with_cookie(oidc_gateway, f"{PUBLIC_URL}/login/oidc/callback?state={state}", cookie)

    assert_error(response, 401, "unauthenticated", "no authorization code")


def test_an_unusable_preferred_username_is_refused(oidc_gateway: TestClient, browser: Browser) -> None:
    url = browser.sign_in(start(oidc_gateway)[0], "not a username!")

    assert_error(callback(oidc_gateway, url), 401, "unauthenticated", "'not a username!'", "cannot be used")


def test_discovery_failure_is_unavailable(user_manager_url: str) -> None:
    settings = oidc_settings(_nowhere(), user_manager_url)
    with running_gateway(settings) as gateway:
        assert_error(gateway.get("/login/oidc"), 503, "unavailable", "OpenID Connect provider")


def test_provider_down_during_the_callback_is_unavailable(user_manager_url: str, browser: Browser) -> None:
    provider = OidcProviderProcess(
        OIDC_CLIENT_ID, "own-secret-0123456789", f"{PUBLIC_URL}/login/oidc/callback"
    )
    provider.start()
    try:
        with running_gateway(oidc_settings(provider, user_manager_url)) as gateway:
            url = browser.sign_in(start(gateway)[0], "henry-down")
            provider.stop()
            assert_error(callback(gateway, url), 503, "unavailable", "unreachable")
    finally:
        provider.stop()


def _nowhere() -> OidcProviderProcess:
    """A provider that was never started: its port refuses connections."""
    return OidcProviderProcess(OIDC_CLIENT_ID, "never-used-secret-0123", f"{PUBLIC_URL}/login/oidc/callback")
