"""Service-to-service trust: every internal call names its caller with a secret.

Each calling service has one secret (`CALLER_TOKEN`); each called service knows the
secrets of the callers it accepts (`CALLER_TOKENS`, name -> secret) and each route
lists the callers that need it. A bare username from the network is never trusted
on its own: only an authenticated caller may act for a user.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from pydantic import SecretStr

from delinkcious.errors import PermissionDenied, Unauthenticated

CALLER_TOKEN_HEADER = "Delinkcious-Caller-Token"


class CallerAuthenticator:
    def __init__(self, tokens: dict[str, SecretStr]) -> None:
        self._tokens = [(name, tok.get_secret_value().encode()) for name, tok in tokens.items()]

    def identify(self, presented: str | None) -> str:
        if not presented:
            raise Unauthenticated(f"missing {CALLER_TOKEN_HEADER} header")
        candidate = presented.encode()
        caller = None
        # Compare against every token, in constant time, so timing reveals nothing.
        for name, token in self._tokens:
            if hmac.compare_digest(candidate, token):
                caller = name
        if caller is None:
            raise Unauthenticated("unknown caller token")
        return caller


def require_caller(*allowed: str) -> Callable[[Request], Awaitable[str]]:
    """A dependency that admits only the named callers and returns the caller's name.
    Async though it awaits nothing: FastAPI runs a plain function in its thread pool,
    a thread hop on every internal request for a dictionary lookup."""

    async def dependency(request: Request) -> str:
        auth: CallerAuthenticator = request.app.state.caller_auth
        caller = auth.identify(request.headers.get(CALLER_TOKEN_HEADER))
        if caller not in allowed:
            raise PermissionDenied(f"{caller} may not call this route")
        request.state.caller = caller
        return caller

    return dependency


def callers(*allowed: str) -> Any:
    """Route-level form: `dependencies=[callers("api-gateway")]`."""
    return Depends(require_caller(*allowed))
