"""user-manager's SQL store (Postgres in production, SQLite locally)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from delinkcious.db import UTCDateTime, reader_of, transaction
from delinkcious.errors import AlreadyExists, LimitExceeded, NotFound
from delinkcious.models import ApiToken, ApiTokenScope, Identity, User
from user_service.store import NewStoredApiToken, StoredApiToken, StoredToken

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(39), nullable=False, unique=True),
    sa.Column("name", sa.String(255)),
    sa.Column("email", sa.String(320)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("provider", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(255), primary_key=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
)

access_tokens = sa.Table(
    "access_tokens",
    metadata,
    # SHA-256 of the token: a leaked table does not leak usable tokens.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("revoked_at", UTCDateTime()),
)

# Personal API tokens: named, scoped, never expiring; deleted (not marked) when revoked.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column(
        "user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used_at", UTCDateTime()),
)

_API_TOKEN_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.name,
    api_tokens.c.scope,
    api_tokens.c.created_at,
    api_tokens.c.last_used_at,
)


def _user(row: sa.Row[str, str | None, str | None, datetime]) -> User:
    return User(username=row[0], name=row[1], email=row[2], created_at=row[3])


_USER_COLUMNS = (users.c.username, users.c.name, users.c.email, users.c.created_at)


def _identity_user(s: Session, identity: Identity) -> int | None:
    user_id: int | None = s.execute(
        sa.select(identities.c.user_id).where(
            identities.c.provider == identity.provider, identities.c.subject == identity.subject
        )
    ).scalar_one_or_none()
    return user_id


class SqlUserStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._reader = reader_of(sessions)

    def login(self, identity: Identity, now: datetime) -> User:
        try:
            return self._login(identity, now)
        except IntegrityError:
            # Two first logins raced: either the same identity (retry finds it) or the
            # username went to another identity (retry raises AlreadyExists).
            return self._login(identity, now)

    def _login(self, identity: Identity, now: datetime) -> User:
        with transaction(self._sessions) as s:
            user_id = _identity_user(s, identity)
            if user_id is None:
                taken = s.execute(
                    sa.select(users.c.id).where(users.c.username == identity.username)
                ).scalar_one_or_none()
                if taken is not None:
                    # A concurrent first login of this same identity may have committed its
                    # user and identity (together) between the two reads: look again.
                    user_id = _identity_user(s, identity)
                    if user_id is None:
                        raise AlreadyExists(f"username {identity.username} is taken")
            if user_id is None:
                user_id = s.execute(
                    sa.insert(users)
                    .values(
                        username=identity.username, name=identity.name, email=identity.email, created_at=now
                    )
                    .returning(users.c.id)
                ).scalar_one()
                s.execute(
                    sa.insert(identities).values(
                        provider=identity.provider, subject=identity.subject, user_id=user_id
                    )
                )
            else:
                s.execute(
                    sa.update(users)
                    .where(users.c.id == user_id)
                    .values(name=identity.name, email=identity.email)
                )
            row = s.execute(sa.select(*_USER_COLUMNS).where(users.c.id == user_id)).one()
            return _user(row)

    def get_user(self, username: str) -> User | None:
        with self._reader.connect() as s:
            row = s.execute(sa.select(*_USER_COLUMNS).where(users.c.username == username)).one_or_none()
            return None if row is None else _user(row)

    def add_token(self, token_hash: str, username: str, created_at: datetime, expires_at: datetime) -> None:
        with transaction(self._sessions) as s:
            user_id = sa.select(users.c.id).where(users.c.username == username).scalar_subquery()
            s.execute(
                sa.insert(access_tokens).values(
                    token_hash=token_hash, user_id=user_id, created_at=created_at, expires_at=expires_at
                )
            )

    def get_token(self, token_hash: str) -> StoredToken | None:
        with self._reader.connect() as s:
            row = s.execute(
                sa.select(users.c.username, access_tokens.c.expires_at, access_tokens.c.revoked_at)
                .join(users, users.c.id == access_tokens.c.user_id)
                .where(access_tokens.c.token_hash == token_hash)
            ).one_or_none()
            if row is None:
                return None
            return StoredToken(row[0], row[1], revoked=row[2] is not None)

    def revoke_token(self, token_hash: str, now: datetime) -> None:
        with transaction(self._sessions) as s:
            s.execute(
                sa.update(access_tokens)
                .where(access_tokens.c.token_hash == token_hash, access_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    def add_api_token(self, username: str, token: NewStoredApiToken, limit: int) -> None:
        with transaction(self._sessions) as s:
            # Locking the user's row serializes creations for one user on Postgres, so
            # the count below stays true until the insert (SQLite's BEGIN IMMEDIATE
            # serializes every writer anyway).
            user_id = s.execute(
                sa.select(users.c.id).where(users.c.username == username).with_for_update()
            ).scalar_one_or_none()
            if user_id is None:
                raise NotFound(f"user {username} does not exist")
            count = s.execute(
                sa.select(sa.func.count()).select_from(api_tokens).where(api_tokens.c.user_id == user_id)
            ).scalar_one()
            if count >= limit:
                raise LimitExceeded(f"a user has at most {limit} API tokens; delete one first")
            s.execute(
                sa.insert(api_tokens).values(
                    id=token.id,
                    token_hash=token.token_hash,
                    user_id=user_id,
                    name=token.name,
                    scope=token.scope.value,
                    created_at=token.created_at,
                )
            )

    def list_api_tokens(self, username: str) -> list[ApiToken]:
        with self._reader.connect() as s:
            rows = s.execute(
                sa.select(*_API_TOKEN_COLUMNS)
                .join(users, users.c.id == api_tokens.c.user_id)
                .where(users.c.username == username)
                .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc())
            ).all()
        return [
            ApiToken(id=r[0], name=r[1], scope=ApiTokenScope(r[2]), created_at=r[3], last_used_at=r[4])
            for r in rows
        ]

    def get_api_token(self, token_hash: str) -> StoredApiToken | None:
        with self._reader.connect() as s:
            row = s.execute(
                sa.select(api_tokens.c.id, users.c.username, api_tokens.c.scope, api_tokens.c.last_used_at)
                .join(users, users.c.id == api_tokens.c.user_id)
                .where(api_tokens.c.token_hash == token_hash)
            ).one_or_none()
        if row is None:
            return None
        return StoredApiToken(row[0], row[1], ApiTokenScope(row[2]), row[3])

    def touch_api_token(self, token_id: str, now: datetime, not_since: datetime) -> None:
        with transaction(self._sessions) as s:
            s.execute(
                sa.update(api_tokens)
                .where(
                    api_tokens.c.id == token_id,
                    sa.or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at <= not_since),
                )
                .values(last_used_at=now)
            )

    def delete_api_token(self, username: str, token_id: str) -> bool:
        with transaction(self._sessions) as s:
            user_id = sa.select(users.c.id).where(users.c.username == username).scalar_subquery()
            deleted = s.execute(
                sa.delete(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
                .returning(api_tokens.c.id)
            ).scalar_one_or_none()
            return deleted is not None

    def delete_api_token_by_hash(self, token_hash: str) -> None:
        with transaction(self._sessions) as s:
            s.execute(sa.delete(api_tokens).where(api_tokens.c.token_hash == token_hash))
