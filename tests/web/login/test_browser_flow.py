"""Signing in from the sign-in page with GitHub (its stand-in) and a real OpenID Connect
provider: the callback sets the session cookie and goes back to the page, while a login
without `next` still answers JSON."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from tests.gateway_login.conftest import callback
from tests.gateway_login.github_standin import GitHubStandIn, GitHubUser
from tests.gateway_login.providers import Browser

OCTOCAT = GitHubUser(id=91, login="Web-Cat", name="Web Cat", email="webcat@example.com")


def _via_github(gateway: TestClient, github: GitHubStandIn, next_page: str) -> httpx.Response:
    github.signed_in = OCTOCAT
    start = gateway.get("/login/github", params={"next": next_page})
    assert start.status_code == 302, start.text
    at_github = httpx.get(start.headers["location"], follow_redirects=False)
    return callback(gateway, at_github.headers["location"])


def test_the_sign_in_page_offers_the_configured_providers(github_gateway: TestClient) -> None:
    page = github_gateway.get("/signin", params={"next": "/tokens"})
    assert page.status_code == 200
    assert 'href="/login/github?next=%2Ftokens"' in page.text
    assert "/login/oidc" not in page.text and "/signin/dev" not in page.text  # neither is on


def test_github_from_a_browser_ends_signed_in_on_the_page(
    github_gateway: TestClient, github: GitHubStandIn
) -> None:
    done = _via_github(github_gateway, github, "/tokens")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/tokens"
    cookies = done.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("dlk_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session
    assert any(c.startswith("dlk_login_github=") and "Max-Age=0" in c for c in cookies)
    page = github_gateway.get("/tokens")
    assert page.status_code == 200 and "@web-cat" in page.text


def test_a_next_to_another_site_lands_home(github_gateway: TestClient, github: GitHubStandIn) -> None:
    done = _via_github(github_gateway, github, "//evil.example/phish")
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_without_next_the_callback_still_answers_json(
    github_gateway: TestClient, github: GitHubStandIn
) -> None:
    github.signed_in = OCTOCAT
    start = github_gateway.get("/login/github")
    at_github = httpx.get(start.headers["location"], follow_redirects=False)
    answer = callback(github_gateway, at_github.headers["location"])
    assert answer.status_code == 200 and answer.json()["user"]["username"] == "web-cat"
    assert "dlk_session" not in answer.headers.get("set-cookie", "")


def test_oidc_from_a_browser_ends_signed_in_on_the_page(oidc_gateway: TestClient, browser: Browser) -> None:
    start = oidc_gateway.get("/login/oidc", params={"next": "/tokens?done=x"})
    assert start.status_code == 302, start.text
    done = callback(oidc_gateway, browser.sign_in(start.headers["location"], "Web-Alice"))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/tokens?done=x"
    assert oidc_gateway.get("/tokens").text.count("@web-alice") == 1
