"""Sign in with GitHub: the OAuth web application flow with PKCE, then the REST API's
`/user` (and `/user/emails` when the profile email is private)."""

from __future__ import annotations

from typing import Annotated, Any

from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from api_gateway.deps import Users
from api_gateway.docs import errors
from api_gateway.login.context import LoginContext
from api_gateway.login.flow import (
    BROWSER_FINISH,
    NEXT_PAGE,
    REDIRECT_RESPONSES,
    check_callback,
    context,
    finish,
    identity,
    new_login,
    redirect,
)
from api_gateway.login.outbound import json_of, send, token_response
from api_gateway.routes.account import LoginResponse, issue_login
from delinkcious.errors import Unauthenticated, Unavailable
from delinkcious.metrics import LOGIN_ATTEMPTS
from delinkcious.models import Identity
from delinkcious.observability import counted_outcome

PROVIDER = "github"
LABEL = "GitHub"
SCOPES = "read:user user:email"
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

Login = Annotated[LoginContext, Depends(context)]
router = APIRouter(tags=["login"])


def _callback_url(login: LoginContext) -> str:
    return f"{login.settings.public_url}/login/github/callback"


def _secret(login: LoginContext) -> str:
    secret = login.settings.github_client_secret
    return secret.get_secret_value() if secret else ""


@router.get(
    "/login/github",
    response_class=RedirectResponse,
    status_code=302,
    responses=REDIRECT_RESPONSES,
    summary="Sign in with GitHub",
)
async def github_login(login: Login, next: Annotated[str | None, NEXT_PAGE] = None) -> RedirectResponse:
    """Redirects to GitHub's authorize page (scopes `read:user user:email`); GitHub sends
    the browser back to `/login/github/callback`."""
    pending = new_login(PROVIDER, nonce=False, next_page=next)
    url = prepare_grant_uri(
        f"{login.settings.github_url.rstrip('/')}/login/oauth/authorize",
        client_id=login.settings.github_client_id,
        response_type="code",
        redirect_uri=_callback_url(login),
        scope=SCOPES,
        state=pending.state,
        code_challenge=create_s256_code_challenge(pending.code_verifier),
        code_challenge_method="S256",
    )
    return redirect(login, url, pending)


@router.get(
    "/login/github/callback",
    dependencies=[counted_outcome(LOGIN_ATTEMPTS, provider=PROVIDER)],
    response_model=LoginResponse,
    responses={**errors(401, 409, 503), **BROWSER_FINISH},
    summary="Finish signing in with GitHub",
)
async def github_callback(
    request: Request,
    response: Response,
    login: Login,
    users: Users,
    code: Annotated[str | None, Query(description="The authorization code from GitHub")] = None,
    state: Annotated[str | None, Query(description="The state of the login this completes")] = None,
    error: Annotated[str | None, Query(description="Set by GitHub when the login failed")] = None,
) -> LoginResponse | Response:
    """Exchanges the code, reads the GitHub user and signs them in (username = their
    lowercased login). Needs the login cookie set by `/login/github`."""
    pending, code = await check_callback(request, login, PROVIDER, state=state, code=code, error=error)
    access_token = await _exchange(login, code, pending.code_verifier)
    result = await issue_login(users, await _identity(login, access_token))
    browser = finish(login, pending, result)
    if browser is not None:
        return browser
    login.cookies.clear(response, PROVIDER)
    response.headers["Cache-Control"] = "no-store"
    return result


async def _exchange(login: LoginContext, code: str, code_verifier: str) -> str:
    url = f"{login.settings.github_url.rstrip('/')}/login/oauth/access_token"
    body = prepare_token_request(
        "authorization_code", code=code, redirect_uri=_callback_url(login), code_verifier=code_verifier
    )
    auth = ClientAuth(login.settings.github_client_id, _secret(login), "client_secret_post")
    _, headers, body = auth.prepare(
        "POST", url, {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}, body
    )
    response = await send(login.http, LABEL, "POST", url, headers=headers, content=body)
    token: str = token_response(response, LABEL)["access_token"]
    return token


async def _api(login: LoginContext, path: str, access_token: str) -> tuple[int, Any]:
    url = f"{login.settings.github_api_url.rstrip('/')}{path}"
    headers = {**API_HEADERS, "Authorization": f"Bearer {access_token}"}
    response = await send(login.http, LABEL, "GET", url, headers=headers)
    if response.status_code in (401, 403, 404):
        return response.status_code, None
    return response.status_code, json_of(response, LABEL)


async def _identity(login: LoginContext, access_token: str) -> Identity:
    status, user = await _api(login, "/user", access_token)
    if user is None:
        raise Unauthenticated(f"{LABEL} did not accept its own access token ({status})")
    if status != 200 or not isinstance(user, dict):
        raise Unavailable(f"{LABEL} answered /user unexpectedly ({status})")
    user_id = user.get("id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise Unauthenticated(f"{LABEL} returned a user without an id")
    email = user.get("email")
    if not isinstance(email, str) or not email:
        email = await _primary_email(login, access_token)
    return identity(
        PROVIDER, str(user_id), user.get("login"), user.get("name"), email, label=LABEL, claim="login"
    )


async def _primary_email(login: LoginContext, access_token: str) -> str | None:
    """The verified primary address; none when there is none or the scope was not granted
    (the email is optional, the login is not)."""
    status, emails = await _api(login, "/user/emails", access_token)
    if status != 200 or not isinstance(emails, list):
        return None
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") is True and entry.get("verified") is True:
            address = entry.get("email")
            return address if isinstance(address, str) else None
    return None
