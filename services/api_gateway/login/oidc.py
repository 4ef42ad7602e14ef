"""Sign in with any OpenID Connect provider: authorization code flow with PKCE, state
and nonce; the user is who the validated ID token says (`sub`), named by their
`preferred_username`."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

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
from api_gateway.login.oidc_client import LABEL, OidcClient
from api_gateway.routes.account import LoginResponse, issue_login
from delinkcious.errors import Unauthenticated, Unavailable
from delinkcious.metrics import LOGIN_ATTEMPTS
from delinkcious.observability import counted_outcome

PROVIDER = "oidc"
PROFILE_CLAIMS = ("preferred_username", "name", "email")

Login = Annotated[LoginContext, Depends(context)]
router = APIRouter(tags=["login"])


def _client(login: LoginContext) -> OidcClient:
    if login.oidc is None:  # the router is only mounted when it is configured
        raise Unavailable("OpenID Connect login is not configured")
    return login.oidc


def identity_provider(issuer: str) -> str:
    """`sub` is unique only within its issuer: naming the issuer in the identity keeps a
    later change of OIDC_ISSUER from handing old accounts to the new provider's users."""
    return f"oidc:{hashlib.sha256(issuer.encode()).hexdigest()[:16]}"


@router.get(
    "/login/oidc",
    response_class=RedirectResponse,
    status_code=302,
    responses={**REDIRECT_RESPONSES, **errors(503)},
    summary="Sign in with the OpenID Connect provider",
)
async def oidc_login(login: Login, next: Annotated[str | None, NEXT_PAGE] = None) -> RedirectResponse:
    """Redirects to the provider's authorization endpoint (found by discovery from
    OIDC_ISSUER; scopes `openid profile email`); it sends the browser back to
    `/login/oidc/callback`."""
    client = _client(login)
    meta = await client.metadata()
    pending = new_login(PROVIDER, nonce=True, next_page=next)
    return redirect(login, client.authorization_url(meta, pending), pending)


@router.get(
    "/login/oidc/callback",
    dependencies=[counted_outcome(LOGIN_ATTEMPTS, provider=PROVIDER)],
    response_model=LoginResponse,
    responses={**errors(401, 409, 503), **BROWSER_FINISH},
    summary="Finish signing in with the OpenID Connect provider",
)
async def oidc_callback(
    request: Request,
    response: Response,
    login: Login,
    users: Users,
    code: Annotated[str | None, Query(description="The authorization code")] = None,
    state: Annotated[str | None, Query(description="The state of the login this completes")] = None,
    error: Annotated[str | None, Query(description="Set by the provider when the login failed")] = None,
    iss: Annotated[str | None, Query(description="The issuer of this response (RFC 9207)")] = None,
) -> LoginResponse | Response:
    """Exchanges the code and validates the ID token (signature by the provider's JWKS,
    issuer, audience, nonce, expiry). The username is the `preferred_username` claim,
    lowercased. Needs the login cookie set by `/login/oidc`."""
    client = _client(login)
    pending, code = await check_callback(request, login, PROVIDER, state=state, code=code, error=error)
    if pending.nonce is None:
        raise Unauthenticated("the login cookie is invalid or expired: start again at /login/oidc")
    meta = await client.metadata()
    client.check_issuer_param(meta, iss)
    token = await client.exchange(meta, code, pending.code_verifier)
    claims = await client.verify_id_token(meta, token["id_token"], pending.nonce, token["access_token"])
    profile: dict[str, Any] = claims
    if any(claim not in claims for claim in PROFILE_CLAIMS):
        # Providers may keep profile claims out of the ID token (OIDC Core 5.4).
        profile = {**await client.userinfo(meta, token["access_token"], claims["sub"]), **claims}
    email = profile.get("email")
    if profile.get("email_verified") in (False, "false"):
        email = None
    user = identity(
        identity_provider(client.issuer),
        claims["sub"],
        profile.get("preferred_username"),
        profile.get("name"),
        email,
        label=LABEL,
        claim="preferred_username",
    )
    result = await issue_login(users, user)
    browser = finish(login, pending, result)
    if browser is not None:
        return browser
    login.cookies.clear(response, PROVIDER)
    response.headers["Cache-Control"] = "no-store"
    return result
