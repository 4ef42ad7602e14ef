"""Signing in with GitHub.

GitHub itself cannot be reached from the test machines, so a local stand-in
(github_standin.py) reproduces its documented OAuth and user API endpoints: the
authorize redirect, the code exchange with PKCE, `/user` and `/user/emails`.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi.testclient import TestClient

from api_gateway.login.cookies import cookie_name
from tests.gateway_login.conftest import (
    GITHUB_CLIENT_ID,
    PUBLIC_URL,
    assert_error,
    callback,
    github_settings,
    running_gateway,
    with_query,
)
from tests.gateway_login.github_standin import GitHubStandIn, GitHubUser

OCTOCAT = GitHubUser(id=583231, login="Octo-Cat", name="The Octocat", email="octocat@example.com")


def sign_in(gateway: TestClient, github: GitHubStandIn, user: GitHubUser) -> str:
    """The browser goes to GitHub as `user` and comes back: returns the callback URL."""
    github.signed_in = user
    start = gateway.get("/login/github")
    assert start.status_code == 302, start.text
    at_github = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_github.status_code == 302, at_github.text  # GitHub accepted the request
    return at_github.headers["location"]


def test_login_issues_a_token_that_works(github_gateway: TestClient, github: GitHubStandIn) -> None:
    start = github_gateway.get("/login/github")
    assert start.status_code == 302
    location = start.headers["location"]
    assert location.startswith(f"{github.url}/login/oauth/authorize?")
    assert github.client_secret not in location
    set_cookie = start.headers["set-cookie"]
    for attribute in ("HttpOnly", "Max-Age=600", "Path=/login", "SameSite=lax"):
        assert attribute in set_cookie

    response = callback(github_gateway, sign_in(github_gateway, github, OCTOCAT))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert body["user"]["username"] == "octo-cat"  # GitHub's login, lowercased
    assert body["user"]["name"] == "The Octocat"
    assert body["user"]["email"] == "octocat@example.com"
    assert github.client_secret not in response.text
    authorize = github.authorize_requests[-1]
    assert authorize["client_id"] == GITHUB_CLIENT_ID
    assert authorize["scope"] == "read:user user:email"
    assert authorize["redirect_uri"] == f"{PUBLIC_URL}/login/github/callback"
    exchange = github.token_requests[-1]
    assert exchange["client_secret"] == github.client_secret and exchange["code_verifier"]

    me = github_gateway.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "octo-cat"


def test_a_private_email_comes_from_the_verified_primary_address(
    github_gateway: TestClient, github: GitHubStandIn
) -> None:
    user = GitHubUser(
        id=1001,
        login="Private-Mail",
        email=None,
        emails=[
            {"email": "old@example.com", "primary": False, "verified": True, "visibility": None},
            {"email": "main@example.com", "primary": True, "verified": True, "visibility": "private"},
        ],
    )
    response = callback(github_gateway, sign_in(github_gateway, github, user))

    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == "main@example.com"
    assert response.json()["user"]["name"] is None


def test_an_unverified_primary_address_is_not_used(github_gateway: TestClient, github: GitHubStandIn) -> None:
    user = GitHubUser(
        id=1002,
        login="unverified-mail",
        emails=[{"email": "claimed@example.com", "primary": True, "verified": False, "visibility": None}],
    )
    response = callback(github_gateway, sign_in(github_gateway, github, user))

    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] is None


def test_a_username_held_by_another_identity_is_a_conflict(
    github_gateway: TestClient, github: GitHubStandIn
) -> None:
    first = callback(github_gateway, sign_in(github_gateway, github, GitHubUser(id=2001, login="Dup-Name")))
    assert first.status_code == 200, first.text
    # Another GitHub account (another id) now calls itself the same.
    second = callback(github_gateway, sign_in(github_gateway, github, GitHubUser(id=2002, login="dup-name")))

    assert_error(second, 409, "already_exists")


def test_a_bad_state_is_refused(github_gateway: TestClient, github: GitHubStandIn) -> None:
    url = sign_in(github_gateway, github, GitHubUser(id=3001, login="bad-state"))

    assert_error(callback(github_gateway, with_query(url, state="forged")), 401, "unauthenticated", "state")
    assert_error(callback(github_gateway, with_query(url, state="")), 401, "unauthenticated", "state")


def test_a_replayed_callback_is_refused(github_gateway: TestClient, github: GitHubStandIn) -> None:
    url = sign_in(github_gateway, github, GitHubUser(id=3002, login="replayer"))
    cookie = github_gateway.cookies[cookie_name("github")]
    assert callback(github_gateway, url).status_code == 200

    github_gateway.cookies.clear()
    parts = urlsplit(url)
    replay = github_gateway.get(
        f"{parts.path}?{parts.query}", headers={"Cookie": f"{cookie_name('github')}={cookie}"}
    )
    assert_error(replay, 401, "unauthenticated", "already used")


def test_a_failed_code_exchange_is_unauthenticated(github_gateway: TestClient, github: GitHubStandIn) -> None:
    url = sign_in(github_gateway, github, GitHubUser(id=3003, login="bad-code"))

    response = callback(github_gateway, with_query(url, code="0123456789abcdef0123"))

    assert_error(response, 401, "unauthenticated", "bad_verification_code")


def test_a_refusal_at_github_is_unauthenticated(github_gateway: TestClient, github: GitHubStandIn) -> None:
    url = sign_in(github_gateway, github, GitHubUser(id=3004, login="denier"))
    # What GitHub sends when the user cancels on its authorize page.
    parts = urlsplit(url)
    state = parse_qs(parts.query)["state"][0]
    denied = f"{PUBLIC_URL}{parts.path}?" + urlencode(
        {
            "error": "access_denied",
            "error_description": "The user has denied your application access.",
            "state": state,
        }
    )

    assert_error(callback(github_gateway, denied), 401, "unauthenticated", "access_denied")


def test_github_down_is_unavailable(github_gateway: TestClient, github: GitHubStandIn) -> None:
    url = sign_in(github_gateway, github, GitHubUser(id=3005, login="too-late"))
    github.close()

    assert_error(callback(github_gateway, url), 503, "unavailable", "GitHub")


def test_a_wrong_client_secret_is_unauthenticated(github: GitHubStandIn, user_manager_url: str) -> None:
    settings = github_settings(github, user_manager_url, GITHUB_CLIENT_SECRET="not-the-registered-secret")
    with running_gateway(settings) as gateway:
        url = sign_in(gateway, github, GitHubUser(id=3006, login="misconfigured"))
        response = callback(gateway, url)

    assert_error(response, 401, "unauthenticated", "incorrect_client_credentials")
    assert "not-the-registered-secret" not in response.text
