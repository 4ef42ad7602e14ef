"""user-manager's business rules: logins, lookups, access tokens and personal API
tokens. No HTTP here."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from delinkcious.errors import NotFound, Unauthenticated
from delinkcious.metrics import TOKEN_VALIDATIONS
from delinkcious.models import (
    ApiTokenList,
    CreatedApiToken,
    Identity,
    IssuedToken,
    NewApiToken,
    TokenOwner,
    User,
)
from delinkcious.timeutil import utcnow
from user_service.store import NewStoredApiToken, UserStore

# A recognisable prefix lets secret scanners and people spot a leaked token; a personal
# API token (which never expires) has its own, so it is told apart from a login's.
TOKEN_PREFIX = "dlk_"
API_TOKEN_PREFIX = "dlkp_"

MAX_API_TOKENS_PER_USER = 100
# last_used_at is written at most this often per token, so validating a personal token
# stays a read nearly every time.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_API_TOKEN_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def hash_token(token: str) -> str:
    # surrogatepass: JSON can carry a lone surrogate, which is an unknown token, not a 500.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class UserService:
    def __init__(
        self,
        store: UserStore,
        token_ttl: timedelta,
        clock: Callable[[], datetime] = utcnow,
        max_api_tokens: int = MAX_API_TOKENS_PER_USER,
    ) -> None:
        self._store = store
        self._ttl = token_ttl
        self._clock = clock
        self._max_api_tokens = max_api_tokens

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
        if token.startswith(API_TOKEN_PREFIX):
            return self._validate_api_token(token)
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
        return TokenOwner(username=stored.username, scope="login", expires_at=stored.expires_at)

    def _validate_api_token(self, token: str) -> TokenOwner:
        stored = self._store.get_api_token(hash_token(token))
        if stored is None:
            # Deleted tokens leave no row: unknown and revoked look the same here.
            TOKEN_VALIDATIONS.labels("unknown").inc()
            raise Unauthenticated("unknown or deleted API token")
        now = self._clock()
        not_since = now - LAST_USED_RESOLUTION
        if stored.last_used_at is None or stored.last_used_at <= not_since:
            self._store.touch_api_token(stored.id, now, not_since)
        TOKEN_VALIDATIONS.labels("valid").inc()
        return TokenOwner(username=stored.username, scope=stored.scope.value, token_id=stored.id)

    def revoke_token(self, token: str) -> None:
        """Revokes a login token, or deletes the personal API token presented."""
        if token.startswith(API_TOKEN_PREFIX):
            self._store.delete_api_token_by_hash(hash_token(token))
        else:
            self._store.revoke_token(hash_token(token), self._clock())

    # ------------------------------------------------------------ personal API tokens

    def create_api_token(self, username: str, new: NewApiToken) -> CreatedApiToken:
        self.get_user(username)
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        stored = NewStoredApiToken(
            id=secrets.token_urlsafe(12),
            token_hash=hash_token(token),
            name=new.name,
            scope=new.scope,
            created_at=self._clock(),
        )
        self._store.add_api_token(username, stored, self._max_api_tokens)
        return CreatedApiToken(
            id=stored.id, name=stored.name, scope=stored.scope, token=token, created_at=stored.created_at
        )

    def list_api_tokens(self, username: str) -> ApiTokenList:
        self.get_user(username)
        return ApiTokenList(tokens=self._store.list_api_tokens(username))

    def delete_api_token(self, username: str, token_id: str) -> None:
        # An id of a shape never issued cannot be anyone's; saying so spares the database.
        if not _API_TOKEN_ID.fullmatch(token_id) or not self._store.delete_api_token(username, token_id):
            raise NotFound("no such API token: it is not yours, or was deleted already")
