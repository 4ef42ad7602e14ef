"""user-manager's storage interface and its in-memory implementation (for unit tests)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from delinkcious.errors import AlreadyExists, LimitExceeded, NotFound
from delinkcious.models import ApiToken, ApiTokenScope, Identity, User


@dataclass(frozen=True)
class StoredToken:
    username: str
    expires_at: datetime
    revoked: bool


@dataclass(frozen=True)
class StoredApiToken:
    """A personal API token as validation needs it."""

    id: str
    username: str
    scope: ApiTokenScope
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewStoredApiToken:
    id: str
    token_hash: str
    name: str
    scope: ApiTokenScope
    created_at: datetime


class UserStore(Protocol):
    def login(self, identity: Identity, now: datetime) -> User:
        """The user of this identity, created on first login; name and email refreshed.
        AlreadyExists when a new identity asks for a username another identity holds."""

    def get_user(self, username: str) -> User | None: ...

    def add_token(
        self, token_hash: str, username: str, created_at: datetime, expires_at: datetime
    ) -> None: ...

    def get_token(self, token_hash: str) -> StoredToken | None: ...

    def revoke_token(self, token_hash: str, now: datetime) -> None: ...

    def add_api_token(self, username: str, token: NewStoredApiToken, limit: int) -> None:
        """LimitExceeded when the user already has `limit` tokens (checked and added in
        one transaction, so concurrent creations cannot pass the limit together)."""

    def list_api_tokens(self, username: str) -> list[ApiToken]:
        """Newest first."""

    def get_api_token(self, token_hash: str) -> StoredApiToken | None: ...

    def touch_api_token(self, token_id: str, now: datetime, not_since: datetime) -> None:
        """Sets last_used_at to now unless it is already later than not_since: a write
        at most once per interval, however many validations race."""

    def delete_api_token(self, username: str, token_id: str) -> bool:
        """False when the user has no token of that id."""

    def delete_api_token_by_hash(self, token_hash: str) -> None: ...


class InMemoryUserStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._identities: dict[tuple[str, str], str] = {}
        self._tokens: dict[str, StoredToken] = {}
        self._api_tokens: dict[str, _MemoryApiToken] = {}  # by id

    def login(self, identity: Identity, now: datetime) -> User:
        with self._lock:
            key = (identity.provider, identity.subject)
            username = self._identities.get(key)
            if username is None:
                if identity.username in self._users:
                    raise AlreadyExists(f"username {identity.username} is taken")
                username = identity.username
                self._identities[key] = username
                self._users[username] = User(username=username, created_at=now)
            user = self._users[username].model_copy(update={"name": identity.name, "email": identity.email})
            self._users[username] = user
            return user

    def get_user(self, username: str) -> User | None:
        return self._users.get(username)

    def add_token(self, token_hash: str, username: str, created_at: datetime, expires_at: datetime) -> None:
        with self._lock:
            self._tokens[token_hash] = StoredToken(username, expires_at, revoked=False)

    def get_token(self, token_hash: str) -> StoredToken | None:
        return self._tokens.get(token_hash)

    def revoke_token(self, token_hash: str, now: datetime) -> None:
        with self._lock:
            token = self._tokens.get(token_hash)
            if token is not None:
                self._tokens[token_hash] = StoredToken(token.username, token.expires_at, revoked=True)

    def add_api_token(self, username: str, token: NewStoredApiToken, limit: int) -> None:
        with self._lock:
            if username not in self._users:
                raise NotFound(f"user {username} does not exist")
            if sum(t.username == username for t in self._api_tokens.values()) >= limit:
                raise LimitExceeded(f"a user has at most {limit} API tokens")
            self._api_tokens[token.id] = _MemoryApiToken(username, token, None)

    def list_api_tokens(self, username: str) -> list[ApiToken]:
        with self._lock:
            mine = [t for t in self._api_tokens.values() if t.username == username]
        mine.sort(key=lambda t: (t.token.created_at, t.token.id), reverse=True)
        return [t.public() for t in mine]

    def get_api_token(self, token_hash: str) -> StoredApiToken | None:
        with self._lock:
            for t in self._api_tokens.values():
                if t.token.token_hash == token_hash:
                    return StoredApiToken(t.token.id, t.username, t.token.scope, t.last_used_at)
        return None

    def touch_api_token(self, token_id: str, now: datetime, not_since: datetime) -> None:
        with self._lock:
            t = self._api_tokens.get(token_id)
            if t is not None and (t.last_used_at is None or t.last_used_at <= not_since):
                t.last_used_at = now

    def delete_api_token(self, username: str, token_id: str) -> bool:
        with self._lock:
            t = self._api_tokens.get(token_id)
            if t is None or t.username != username:
                return False
            del self._api_tokens[token_id]
            return True

    def delete_api_token_by_hash(self, token_hash: str) -> None:
        with self._lock:
            for token_id, t in list(self._api_tokens.items()):
                if t.token.token_hash == token_hash:
                    del self._api_tokens[token_id]


@dataclass
class _MemoryApiToken:
    username: str
    token: NewStoredApiToken
    last_used_at: datetime | None

    def public(self) -> ApiToken:
        t = self.token
        return ApiToken(
            id=t.id, name=t.name, scope=t.scope, created_at=t.created_at, last_used_at=self.last_used_at
        )
