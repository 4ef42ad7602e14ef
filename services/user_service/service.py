"""user-manager's business rules: logins, lookups and access tokens. No HTTP here."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from delinkcious.errors import NotFound, Unauthenticated
from delinkcious.metrics import TOKEN_VALIDATIONS
from delinkcious.models import Identity, IssuedToken, TokenOwner, User
from delinkcious.timeutil import utcnow
from user_service.store import UserStore

# A recognisable prefix lets secret scanners and people spot a leaked token.
TOKEN_PREFIX = "dlk_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserService:
    def __init__(
        self, store: UserStore, token_ttl: timedelta, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._store = store
        self._ttl = token_ttl
        self._clock = clock

    def login(self, identity: Identity) -> User:
        """Registers the identity on first login. The username is fixed at registration:
        links and follows refer to it, so a later rename at the provider does not move it."""
        return self._store.login(identity, self._clock())

    def get_user(self, username: str) -> User:
        user = self._store.get_user(username)
        if user is None:
            raise NotFound(f"user {username} does not exist")
        return user

    def issue_token(self, username: str) -> IssuedToken:
        self.get_user(username)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        self._store.add_token(hash_token(token), username, now, now + self._ttl)
        return IssuedToken(access_token=token, expires_in=int(self._ttl.total_seconds()))

    def validate_token(self, token: str) -> TokenOwner:
        stored = self._store.get_token(hash_token(token)) if token else None
        if stored is None:
            TOKEN_VALIDATIONS.labels("unknown").inc()
            raise Unauthenticated("unknown access token")
        if stored.revoked:
            TOKEN_VALIDATIONS.labels("revoked").inc()
            raise Unauthenticated("access token was revoked")
        if stored.expires_at <= self._clock():
            TOKEN_VALIDATIONS.labels("expired").inc()
            raise Unauthenticated("access token has expired")
        TOKEN_VALIDATIONS.labels("valid").inc()
        return TokenOwner(username=stored.username, expires_at=stored.expires_at)

    def revoke_token(self, token: str) -> None:
        self._store.revoke_token(hash_token(token), self._clock())
