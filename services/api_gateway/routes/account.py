"""Who you are, logging out, and the local run's development login."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api_gateway.auth import TokenCache, presented_token, token_owner
from api_gateway.deps import User, Users
from api_gateway.docs import AUTHED, errors
from api_gateway.forward import Forwarded
from api_gateway.web import signout
from delinkcious.metrics import LOGIN_ATTEMPTS
from delinkcious.models import AnyCaseUsername, Identity, Strict
from delinkcious.models import User as UserModel
from delinkcious.observability import counted_outcome

router = APIRouter(tags=["account"])


class LoginResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserModel


async def issue_login(users: Users, identity: Identity) -> LoginResponse:
    """Registers or updates the user of this identity, then issues a gateway token."""
    user = await users.login(identity)
    token = await users.issue_token(user.username)
    return LoginResponse(access_token=token.access_token, expires_in=token.expires_in, user=user)


@router.get("/v1/me", response_model=UserModel, responses=errors(*AUTHED), summary="The signed-in user")
async def me(user: User, users: Users) -> Response:
    return Forwarded(await users.get_user_json(user))


@router.post("/logout", status_code=204, responses=errors(401, 403, 429, 503), summary="Revoke this token")
async def logout(request: Request, users: Users) -> Response:
    """The presented token is rejected with 401 from the next request on. For a personal
    API token, which never expires, that means deleting it, as `DELETE /v1/tokens/{id}`
    would (a `feeds` token is refused here, as everywhere outside the feeds). A browser
    session (its cookie, and the page's CSRF token) ends the same way, and its cookie
    is cleared."""
    if signout.has_session_only(request):
        return await signout.end_session(request)
    token = presented_token(request)
    owner = await token_owner(request, token, allow_feeds=False)
    await users.revoke_token(token)
    cache: TokenCache = request.app.state.token_cache
    cache.evict(token)
    if owner.token_id is not None:
        cache.evict_id(owner.token_id)
    return Response(status_code=204)


class DevLogin(Strict):
    username: AnyCaseUsername


dev_router = APIRouter(tags=["login"])


@dev_router.post(
    "/login/dev",
    dependencies=[counted_outcome(LOGIN_ATTEMPTS, provider="dev")],
    responses=errors(400, 409, 503),
    summary="Development login (DEV_LOGIN=true only)",
)
async def dev_login(body: DevLogin, users: Users) -> LoginResponse:
    """Issues a token for that username, creating the user if needed. Never enabled by
    the Helm chart: anyone could be anyone."""
    return await issue_login(users, Identity(provider="dev", subject=body.username, username=body.username))
