"""Personal API tokens in UserService, on the SQL store (Postgres and SQLite) and the
in-memory one: they must agree. The clock is the test's, so last_used_at's one-minute
resolution is tested without waiting."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from delinkcious.db import create_db_engine, make_sessionmaker
from delinkcious.errors import LimitExceeded, NotFound, Unauthenticated
from delinkcious.migrations import upgrade_to_head
from delinkcious.models import ApiTokenScope, NewApiToken
from tests.user.helpers import MIGRATIONS, VERSION_TABLE, FakeClock, dump_database, identity
from user_service.service import API_TOKEN_PREFIX, TOKEN_PREFIX, UserService, hash_token
from user_service.sql_store import SqlUserStore
from user_service.store import InMemoryUserStore, UserStore

TTL = timedelta(hours=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def migrated(url: str) -> sa.Engine:
    engine = create_db_engine(url, pool_size=10)
    upgrade_to_head(engine, MIGRATIONS, VERSION_TABLE)
    return engine


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = migrated(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["postgres", "sqlite", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[UserStore]:
    if request.param == "memory":
        yield InMemoryUserStore()
        return
    engine = migrated(request.getfixturevalue(f"{request.param}_url"))
    yield SqlUserStore(make_sessionmaker(engine))
    engine.dispose()


@pytest.fixture
def service(store: UserStore, clock: FakeClock) -> UserService:
    service = UserService(store, TTL, clock=clock)
    service.login(identity("alice"))
    service.login(identity("bob"))
    return service


def new(name: str = "my script", scope: str = "full") -> NewApiToken:
    return NewApiToken.model_validate({"name": name, "scope": scope})


# ---------------------------------------------------------------- create, list, delete


def test_create_shows_the_secret_once_and_list_never(service: UserService, clock: FakeClock) -> None:
    created = service.create_api_token("alice", new("  my script  "))

    assert created.token.startswith(API_TOKEN_PREFIX) and len(created.token) > 40
    assert (created.name, created.scope, created.created_at, created.last_used_at) == (
        "my script",
        ApiTokenScope.FULL,
        clock.now,
        None,
    )
    listed = service.list_api_tokens("alice").model_dump(mode="json")
    assert listed == {
        "tokens": [
            {
                "id": created.id,
                "name": "my script",
                "scope": "full",
                "created_at": created.model_dump(mode="json")["created_at"],
                "last_used_at": None,
            }
        ]
    }
    assert created.token not in str(listed)


def test_list_is_newest_first_and_only_the_users_own(service: UserService, clock: FakeClock) -> None:
    first = service.create_api_token("alice", new("first"))
    clock.advance(timedelta(seconds=1))
    second = service.create_api_token("alice", new("second", "feeds"))
    service.create_api_token("bob", new("bob's"))

    tokens = service.list_api_tokens("alice").tokens
    assert [(t.id, t.name, t.scope) for t in tokens] == [
        (second.id, "second", ApiTokenScope.FEEDS),
        (first.id, "first", ApiTokenScope.FULL),
    ]
    assert service.list_api_tokens("bob").tokens[0].name == "bob's"


def test_ids_and_secrets_are_unique(service: UserService) -> None:
    created = [service.create_api_token("alice", new(f"t{i}")) for i in range(20)]
    assert len({c.id for c in created}) == 20
    assert len({c.token for c in created}) == 20


def test_delete_rejects_the_token_at_once(service: UserService) -> None:
    created = service.create_api_token("alice", new())
    kept = service.create_api_token("alice", new("kept"))
    assert service.validate_token(created.token).username == "alice"

    service.delete_api_token("alice", created.id)

    with pytest.raises(Unauthenticated):
        service.validate_token(created.token)
    with pytest.raises(NotFound):
        service.delete_api_token("alice", created.id)  # already gone
    assert [t.id for t in service.list_api_tokens("alice").tokens] == [kept.id]
    assert service.validate_token(kept.token).token_id == kept.id


def test_nobody_deletes_another_users_token(service: UserService) -> None:
    alices = service.create_api_token("alice", new())
    with pytest.raises(NotFound):
        service.delete_api_token("bob", alices.id)
    assert service.validate_token(alices.token).username == "alice"


@pytest.mark.parametrize("token_id", ["nope", "", "a" * 33, "x/y", "a\x00b", "ä", "' OR 1=1 --"])
def test_unknown_or_ill_formed_ids_are_not_found(service: UserService, token_id: str) -> None:
    service.create_api_token("alice", new())
    with pytest.raises(NotFound):
        service.delete_api_token("alice", token_id)
    assert len(service.list_api_tokens("alice").tokens) == 1


def test_unknown_users_are_not_found(service: UserService) -> None:
    with pytest.raises(NotFound):
        service.create_api_token("nobody", new())
    with pytest.raises(NotFound):
        service.list_api_tokens("nobody")


def test_a_user_has_at_most_the_limit(store: UserStore, clock: FakeClock) -> None:
    service = UserService(store, TTL, clock=clock, max_api_tokens=3)
    service.login(identity("alice"))
    service.login(identity("bob"))
    made = [service.create_api_token("alice", new(f"t{i}")) for i in range(3)]
    with pytest.raises(LimitExceeded):
        service.create_api_token("alice", new("one too many"))
    assert len(service.list_api_tokens("alice").tokens) == 3
    service.create_api_token("bob", new())  # the limit is per user

    service.delete_api_token("alice", made[0].id)
    service.create_api_token("alice", new("room again"))
    assert len(service.list_api_tokens("alice").tokens) == 3


def test_concurrent_creations_do_not_pass_the_limit(engine: sa.Engine, clock: FakeClock) -> None:
    service = UserService(SqlUserStore(make_sessionmaker(engine)), TTL, clock=clock, max_api_tokens=5)
    service.login(identity("alice"))
    start = threading.Barrier(10, timeout=30)

    def create(i: int) -> Any:
        start.wait()
        try:
            return service.create_api_token("alice", new(f"t{i}"))
        except LimitExceeded as exc:
            return exc

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(create, range(10)))

    assert sum(isinstance(r, LimitExceeded) for r in results) == 5
    assert len(service.list_api_tokens("alice").tokens) == 5


# ---------------------------------------------------------------- validation and scopes


def test_validation_says_who_owns_a_token_and_its_kind(service: UserService) -> None:
    full = service.create_api_token("alice", new("full"))
    feeds = service.create_api_token("alice", new("feeds", "feeds"))
    login = service.issue_token("alice").access_token

    assert service.validate_token(full.token).model_dump() == {
        "username": "alice",
        "scope": "full",
        "token_id": full.id,
        "expires_at": None,
    }
    assert service.validate_token(feeds.token).scope == "feeds"
    owner = service.validate_token(login)
    assert (owner.scope, owner.token_id, owner.expires_at is not None) == ("login", None, True)


def test_personal_tokens_never_expire(service: UserService, clock: FakeClock) -> None:
    created = service.create_api_token("alice", new())
    login = service.issue_token("alice").access_token
    clock.advance(timedelta(days=3650))
    assert service.validate_token(created.token).username == "alice"
    with pytest.raises(Unauthenticated):
        service.validate_token(login)


@pytest.mark.parametrize("token", [API_TOKEN_PREFIX, API_TOKEN_PREFIX + "never-issued", "dlkp"])
def test_unknown_personal_tokens_are_unauthenticated(service: UserService, token: str) -> None:
    service.create_api_token("alice", new())
    with pytest.raises(Unauthenticated):
        service.validate_token(token)


def test_a_login_tokens_secret_with_the_other_prefix_is_not_a_personal_token(service: UserService) -> None:
    login = service.issue_token("alice").access_token
    personal = service.create_api_token("alice", new()).token
    for forged in (
        API_TOKEN_PREFIX + login.removeprefix(TOKEN_PREFIX),
        TOKEN_PREFIX + personal.removeprefix(API_TOKEN_PREFIX),
    ):
        with pytest.raises(Unauthenticated):
            service.validate_token(forged)


def test_revoking_the_presented_personal_token_deletes_it(service: UserService) -> None:
    created = service.create_api_token("alice", new())
    service.revoke_token(created.token)
    with pytest.raises(Unauthenticated):
        service.validate_token(created.token)
    assert service.list_api_tokens("alice").tokens == []


# ---------------------------------------------------------------- last_used_at


def last_used(service: UserService, token_id: str) -> Any:
    (token,) = [t for t in service.list_api_tokens("alice").tokens if t.id == token_id]
    return token.last_used_at


def test_last_used_at_is_written_at_most_once_a_minute(service: UserService, clock: FakeClock) -> None:
    created = service.create_api_token("alice", new())
    assert last_used(service, created.id) is None

    first_use = clock.now
    service.validate_token(created.token)
    assert last_used(service, created.id) == first_use

    clock.advance(timedelta(seconds=59))
    service.validate_token(created.token)
    assert last_used(service, created.id) == first_use  # within the minute: not written

    clock.advance(timedelta(seconds=1))
    service.validate_token(created.token)
    assert last_used(service, created.id) == clock.now

    clock.advance(timedelta(hours=5))
    service.validate_token(created.token)
    assert last_used(service, created.id) == clock.now


def test_validation_within_the_minute_is_a_read_only(engine: sa.Engine, clock: FakeClock) -> None:
    service = UserService(SqlUserStore(make_sessionmaker(engine)), TTL, clock=clock)
    service.login(identity("alice"))
    created = service.create_api_token("alice", new())
    writes: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    service.validate_token(created.token)
    assert len(writes) == 1  # the first use is recorded
    for _ in range(20):
        clock.advance(timedelta(seconds=2))
        service.validate_token(created.token)
    assert len(writes) == 1, writes
    clock.advance(timedelta(seconds=30))
    service.validate_token(created.token)
    assert len(writes) == 2


def test_racing_first_uses_leave_one_value(engine: sa.Engine, clock: FakeClock) -> None:
    service = UserService(SqlUserStore(make_sessionmaker(engine)), TTL, clock=clock)
    service.login(identity("alice"))
    created = service.create_api_token("alice", new())
    start = threading.Barrier(8, timeout=30)

    def use(_: int) -> str:
        start.wait()
        return service.validate_token(created.token).username

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(use, range(8))) == {"alice"}
    assert last_used(service, created.id) == clock.now


# ---------------------------------------------------------------- storage


def test_only_hashes_are_stored(engine: sa.Engine, clock: FakeClock) -> None:
    service = UserService(SqlUserStore(make_sessionmaker(engine)), TTL, clock=clock)
    service.login(identity("alice"))
    created = service.create_api_token("alice", new("stored", "feeds"))
    service.validate_token(created.token)

    everything = dump_database(engine)

    assert "api_tokens: " in everything and "stored" in everything  # the dump reaches the row
    assert hash_token(created.token) in everything
    assert created.token not in everything
    assert created.token.removeprefix(API_TOKEN_PREFIX) not in everything


# ---------------------------------------------------------------- names and scopes


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "a\x00b"},
        {"name": "lone \ud800 surrogate"},
        {"name": 5},
        {"name": None},
        {},
        {"name": "ok", "scope": "admin"},
        {"name": "ok", "scope": "FULL"},
        {"name": "ok", "scope": "login"},
        {"name": "ok", "scope": None},
        {"name": "ok", "extra": 1},
    ],
)
def test_bad_names_and_scopes_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        NewApiToken.model_validate(body)


def test_names_are_trimmed_and_may_be_100_characters_of_anything(service: UserService) -> None:
    name = "é🙂 " + "x" * 97
    assert len(name) == 100
    assert service.create_api_token("alice", new(name)).name == name
    # 100 as sent (the schema's maxLength), the surrounding whitespace then trimmed.
    padded = f"\t {name[:-4]} \n"
    assert len(padded) == 100
    created = service.create_api_token("alice", new(padded))
    assert created.name == name[:-4]
    assert {t.name for t in service.list_api_tokens("alice").tokens} == {name, name[:-4]}
    with pytest.raises(ValidationError):
        new(f" {name} ")
