"""The login cookie: binds a login's state, nonce and PKCE verifier to the browser that
started it, so a callback from another browser (login CSRF) or a forged one fails.

It is a JWT signed (HS256) with a key derived from SESSION_SECRET. Nothing in it is
secret from the browser that holds it: the verifier only matters together with the code,
which the provider sends to this same browser.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from fastapi import Request, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from delinkcious.errors import Unauthenticated

COOKIE_PATH = "/login"
MAX_AGE_SECONDS = 600  # time to sign in at the provider
MAX_COOKIE_LENGTH = 2048
_KEY_PURPOSE = b"delinkcious login cookie v1"


@dataclass(frozen=True)
class PendingLogin:
    provider: str
    state: str
    code_verifier: str
    nonce: str | None = None
    next: str | None = None  # a browser's sign-in: the page to go to, with a session cookie


def cookie_name(provider: str) -> str:
    return f"dlk_login_{provider}"


class LoginCookies:
    def __init__(self, session_secret: str, *, secure: bool) -> None:
        # A key of its own, so SESSION_SECRET can sign other things without confusion.
        derived = hmac.new(session_secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()
        self._key = OctKey.import_key(derived)
        self._secure = secure

    def encode(self, pending: PendingLogin, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims: dict[str, object] = {
            "prv": pending.provider,
            "st": pending.state,
            "cv": pending.code_verifier,
            "iat": issued,
            "exp": issued + MAX_AGE_SECONDS,
        }
        if pending.nonce is not None:
            claims["nc"] = pending.nonce
        if pending.next is not None:
            claims["nx"] = pending.next
        return jwt.encode({"alg": "HS256"}, claims, self._key)

    def decode(self, provider: str, value: str) -> PendingLogin:
        invalid = Unauthenticated(f"the login cookie is invalid or expired: start again at /login/{provider}")
        if len(value) > MAX_COOKIE_LENGTH:
            raise invalid
        try:
            token = jwt.decode(value, self._key, algorithms=["HS256"])
            jwt.JWTClaimsRegistry(exp={"essential": True}).validate(token.claims)
        except (JoseError, ValueError, TypeError):
            raise invalid from None
        claims = token.claims
        fields = (claims.get("prv"), claims.get("st"), claims.get("cv"))
        nonce, next_page = claims.get("nc"), claims.get("nx")
        if not all(isinstance(f, str) and f for f in fields) or not isinstance(nonce, str | None):
            raise invalid
        if claims["prv"] != provider or not isinstance(next_page, str | None):
            raise invalid
        return PendingLogin(provider, claims["st"], claims["cv"], nonce, next_page)

    def read(self, request: Request, provider: str) -> PendingLogin:
        value = request.cookies.get(cookie_name(provider))
        if not value:
            raise Unauthenticated(
                "no login in progress in this browser (its login cookie is missing or expired): "
                f"start again at /login/{provider}"
            )
        return self.decode(provider, value)

    def set(self, response: Response, pending: PendingLogin) -> None:
        response.set_cookie(
            cookie_name(pending.provider),
            self.encode(pending),
            max_age=MAX_AGE_SECONDS,
            path=COOKIE_PATH,
            secure=self._secure,
            httponly=True,
            samesite="lax",  # sent on the provider's top-level redirect back, not on cross-site posts
        )

    def clear(self, response: Response, provider: str) -> None:
        response.delete_cookie(
            cookie_name(provider), path=COOKIE_PATH, secure=self._secure, httponly=True, samesite="lax"
        )
