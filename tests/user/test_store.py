"""SqlUserStore on real Postgres and SQLite: the contract UserService relies on, races included."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from delinkcious.db import create_db_engine, make_sessionmaker
from delinkcious.errors import AlreadyExists, NotFound, Unauthenticated
from delinkcious.migrations import upgrade_to_head
from delinkcious.models import User
from tests.user.helpers import MIGRATIONS, VERSION_TABLE, FakeClock, dump_database, identity
from user_service.service import TOKEN_PREFIX, UserService, hash_token
from user_service.sql_store import SqlUserStore, metadata

TTL = timedelta(hours=1)
THREADS = 10


def migrated_engine(url: str) -> sa.Engine:
    engine = create_db_engine(url, pool_size=THREADS)
    upgrade_to_head(engine, MIGRATIONS, VERSION_TABLE)
    return engine


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = migrated_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: sa.Engine) -> SqlUserStore:
    return SqlUserStore(make_sessionmaker(engine))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(store: SqlUserStore, clock: FakeClock) -> UserService:
    return UserService(store, TTL, clock=clock)


def count_users(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one())


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs the calls in threads released together; returns each result or exception."""
    start = threading.Barrier(len(calls), timeout=30)

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return call()
        except Exception as exc:  # collected: the test decides which failures are right
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# ---------------------------------------------------------------- the contract


def test_first_login_creates_and_second_refreshes(service: UserService, clock: FakeClock) -> None:
    first = service.login(identity("Alice", subject="1", name="Alice", email="a@example.com"))
    assert first == User(username="alice", name="Alice", email="a@example.com", created_at=clock.now)

    clock.advance(timedelta(days=1))
    again = service.login(identity("alice-two", subject="1", name="Alice L.", email=None))

    assert again == User(username="alice", name="Alice L.", email=None, created_at=first.created_at)
    assert service.get_user("alice") == again
    with pytest.raises(NotFound):
        service.get_user("alice-two")


def test_a_taken_username_is_already_exists(service: UserService, engine: sa.Engine) -> None:
    service.login(identity("alice", provider="github", subject="1"))
    with pytest.raises(AlreadyExists):
        service.login(identity("alice", provider="oidc", subject="1"))
    assert count_users(engine) == 1


def test_unknown_user_is_not_found(service: UserService) -> None:
    with pytest.raises(NotFound):
        service.get_user("nobody")
    with pytest.raises(NotFound):
        service.issue_token("nobody")


def test_token_lifecycle(service: UserService, clock: FakeClock) -> None:
    service.login(identity("alice"))
    service.login(identity("bob"))
    alice = service.issue_token("alice").access_token
    bob = service.issue_token("bob").access_token

    assert service.validate_token(alice).username == "alice"
    assert service.validate_token(bob).username == "bob"

    service.revoke_token(alice)
    with pytest.raises(Unauthenticated):
        service.validate_token(alice)
    assert service.validate_token(bob).expires_at == clock.now + TTL

    clock.advance(TTL)
    with pytest.raises(Unauthenticated):
        service.validate_token(bob)


@pytest.mark.parametrize("token", ["", "dlk_unknown"])
def test_unknown_tokens_are_unauthenticated(service: UserService, token: str) -> None:
    service.login(identity("alice"))
    service.issue_token("alice")
    with pytest.raises(Unauthenticated):
        service.validate_token(token)


def test_tokens_are_stored_only_as_hashes(service: UserService, engine: sa.Engine) -> None:
    service.login(identity("alice"))
    token = service.issue_token("alice").access_token
    service.revoke_token(service.issue_token("alice").access_token)

    everything = dump_database(engine)

    assert hash_token(token) in everything  # proves the dump reaches the tokens
    assert token not in everything
    assert token.removeprefix(TOKEN_PREFIX) not in everything


def test_timestamps_come_back_timezone_aware_utc(engine: sa.Engine, store: SqlUserStore) -> None:
    if engine.dialect.name == "postgresql":
        # Make the server answer in another zone, so reading must convert to UTC too.
        sa.event.listen(engine, "connect", _set_session_time_zone)
        engine.dispose()
    # A non-UTC input must come back as the same instant, expressed in UTC.
    login_time = datetime(2026, 3, 4, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    expiry = login_time + TTL

    user = store.login(identity("alice"), login_time)
    store.add_token(hash_token("dlk_x"), "alice", login_time, expiry)
    fetched = store.get_user("alice")
    token = store.get_token(hash_token("dlk_x"))

    assert fetched is not None and token is not None
    for value, expected in (
        (user.created_at, login_time),
        (fetched.created_at, login_time),
        (token.expires_at, expiry),
    ):
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert value == expected
    assert fetched.created_at.isoformat() == "2026-03-04T04:30:00.123456+00:00"
    assert '"created_at":"2026-03-04T04:30:00.123456Z"' in fetched.model_dump_json()


def _set_session_time_zone(dbapi_conn: Any, _record: Any) -> None:
    with dbapi_conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'America/Sao_Paulo'")


# ---------------------------------------------------------------- races


def test_concurrent_first_logins_of_one_identity_return_one_user(
    store: SqlUserStore, engine: sa.Engine, clock: FakeClock
) -> None:
    who = identity("alice", subject="99", name="Alice")

    results = race([lambda: store.login(who, clock.now) for _ in range(THREADS)])

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert {r.username for r in results} == {"alice"}
    assert len({r.created_at for r in results}) == 1
    assert count_users(engine) == 1


def test_two_identities_racing_for_one_username_one_wins(
    store: SqlUserStore, engine: sa.Engine, clock: FakeClock
) -> None:
    for round_ in range(5):
        name = f"contested-{round_}"
        rivals = [
            identity(name, provider="github", subject=f"gh-{round_}"),
            identity(name, provider="oidc", subject=f"oidc-{round_}"),
        ]

        results = race([partial(store.login, who, clock.now) for who in rivals])

        winners = [r for r in results if isinstance(r, User)]
        losers = [r for r in results if isinstance(r, AlreadyExists)]
        assert (len(winners), len(losers)) == (1, 1), results
        assert winners[0].username == name
    assert count_users(engine) == 5


# Postgres only: SQLite takes its write lock at BEGIN, so its logins never interleave.
# These pin the two windows a plain race hits only by luck; each hook checks that it
# fired, so a rewrite of the store's queries cannot make them pass vacuously.


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = migrated_engine(postgres_url)
    yield engine
    engine.dispose()


def _is_insert_into_users(statement: str) -> bool:
    return statement.lstrip().upper().startswith("INSERT INTO USERS")


def _is_username_lookup(statement: str) -> bool:
    flat = " ".join(statement.upper().split())
    return flat.startswith("SELECT USERS.ID FROM USERS WHERE USERS.USERNAME")


@pytest.mark.parametrize("same_identity", [True, False], ids=["same-identity", "rival-identity"])
def test_first_logins_that_both_pass_the_checks(pg_engine: sa.Engine, same_identity: bool) -> None:
    """Both logins have seen "no such identity, username free" before either inserts:
    the unique constraint decides, and the loser must not surface an IntegrityError."""
    store = SqlUserStore(make_sessionmaker(pg_engine))
    first = identity("alice", provider="github", subject="1")
    second = first if same_identity else identity("alice", provider="oidc", subject="2")
    both_checked = threading.Barrier(2, timeout=20)

    @sa.event.listens_for(pg_engine, "before_cursor_execute")
    def _hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _is_insert_into_users(statement):
            both_checked.wait()

    now = datetime(2026, 1, 1, tzinfo=UTC)
    results = race([partial(store.login, first, now), partial(store.login, second, now)])

    users = [r for r in results if isinstance(r, User)]
    if same_identity:
        assert len(users) == 2 and users[0] == users[1], results
    else:
        assert len(users) == 1 and sum(isinstance(r, AlreadyExists) for r in results) == 1, results
    assert count_users(pg_engine) == 1


def test_first_login_committed_between_the_identity_and_username_checks(
    pg_engine: sa.Engine,
) -> None:
    """One login finds no identity; before it looks the username up, a concurrent first
    login of the same identity commits. It must return that user, not AlreadyExists."""
    store = SqlUserStore(make_sessionmaker(pg_engine))
    who = identity("alice", subject="1", name="Alice")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    other: list[User | Exception] = []
    fired = threading.Event()

    @sa.event.listens_for(pg_engine, "before_cursor_execute")
    def _interleave(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _is_username_lookup(statement) and not fired.is_set():
            fired.set()
            # The concurrent login runs to commit while this one waits here.
            thread = threading.Thread(target=lambda: other.extend(race([partial(store.login, who, now)])))
            thread.start()
            thread.join(timeout=20)

    result = store.login(who, now)

    assert fired.is_set(), "the store no longer looks the username up this way; update the hook"
    assert other == [result]
    assert result.username == "alice"
    assert count_users(pg_engine) == 1


# ---------------------------------------------------------------- migrations


def test_migrations_are_idempotent(engine: sa.Engine, store: SqlUserStore) -> None:
    store.login(identity("alice"), datetime(2026, 1, 1, tzinfo=UTC))

    upgrade_to_head(engine, MIGRATIONS, VERSION_TABLE)  # the fixture already ran it once

    with engine.connect() as conn:
        versions = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    assert versions == ["0002"]
    assert {"users", "identities", "access_tokens", "api_tokens"} <= set(sa.inspect(engine).get_table_names())
    assert store.get_user("alice") is not None  # data survives a second run


def test_migrations_create_exactly_the_tables_the_code_uses(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_migrations_use_their_own_version_table(engine: sa.Engine) -> None:
    # Services may share a server; a default "alembic_version" table would collide.
    assert "alembic_version" not in sa.inspect(engine).get_table_names()


def test_concurrent_migrations_apply_once(database_url: str) -> None:
    engines = [create_db_engine(database_url) for _ in range(4)]
    try:
        results = race([partial(upgrade_to_head, e, MIGRATIONS, VERSION_TABLE) for e in engines])
        assert [r for r in results if isinstance(r, Exception)] == []
        with engines[0].connect() as conn:
            count = conn.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one()
        assert count == 1
    finally:
        for e in engines:
            e.dispose()
