"""user-manager's storage interface and its in-memory implementation (for unit tests)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from delinkcious.errors import AlreadyExists
from delinkcious.models import Identity, User


@dataclass(frozen=True)
class StoredToken:
    username: str
    expires_at: datetime
    revoked: bool


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


class InMemoryUserStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._identities: dict[tuple[str, str], str] = {}
        self._tokens: dict[str, StoredToken] = {}

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
