"""UserService's business rules, on the in-memory store with a clock the test controls."""

from __future__ import annotations

from datetime import timedelta

import pytest

from delinkcious.errors import AlreadyExists, NotFound, Unauthenticated
from tests.user.helpers import FakeClock, identity
from user_service.service import TOKEN_PREFIX, UserService, hash_token
from user_service.store import InMemoryUserStore

TTL = timedelta(hours=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> InMemoryUserStore:
    return InMemoryUserStore()


@pytest.fixture
def service(store: InMemoryUserStore, clock: FakeClock) -> UserService:
    return UserService(store, TTL, clock=clock)


def test_first_login_creates_the_user_with_a_lowercased_username(
    service: UserService, clock: FakeClock
) -> None:
    user = service.login(identity("Alice", name="Alice Liddell", email="alice@example.com"))

    assert user.username == "alice"
    assert (user.name, user.email) == ("Alice Liddell", "alice@example.com")
    assert user.created_at == clock.now
    assert service.get_user("alice") == user


def test_second_login_refreshes_profile_but_keeps_username_and_created_at(
    service: UserService, clock: FakeClock
) -> None:
    first = service.login(identity("alice", subject="42", name="Alice", email="old@example.com"))
    clock.advance(timedelta(days=3))

    # The provider now reports a new login name too: the username must not move.
    again = service.login(identity("alice-renamed", subject="42", name="Alice L.", email="new@example.com"))

    assert again.username == "alice"
    assert again.created_at == first.created_at
    assert (again.name, again.email) == ("Alice L.", "new@example.com")
    assert service.get_user("alice") == again
    with pytest.raises(NotFound):
        service.get_user("alice-renamed")


def test_second_login_can_clear_name_and_email(service: UserService) -> None:
    service.login(identity("alice", name="Alice", email="alice@example.com"))
    again = service.login(identity("alice"))
    assert (again.name, again.email) == (None, None)


def test_a_new_identity_cannot_take_a_username_held_by_another(service: UserService) -> None:
    owner = service.login(identity("alice", provider="github", subject="1", name="Alice"))

    with pytest.raises(AlreadyExists):
        service.login(identity("ALICE", provider="oidc", subject="1", name="Mallory"))

    assert service.get_user("alice") == owner


def test_same_subject_at_another_provider_is_another_identity(service: UserService) -> None:
    service.login(identity("alice", provider="github", subject="7"))
    bob = service.login(identity("bob", provider="oidc", subject="7"))
    assert bob.username == "bob"


def test_get_user_of_an_unknown_username_is_not_found(service: UserService) -> None:
    with pytest.raises(NotFound):
        service.get_user("nobody")


def test_issue_token_for_an_unknown_user_is_not_found(service: UserService) -> None:
    with pytest.raises(NotFound):
        service.issue_token("nobody")


def test_an_issued_token_validates_to_its_owner(service: UserService, clock: FakeClock) -> None:
    service.login(identity("alice"))
    service.login(identity("bob"))

    issued = service.issue_token("alice")

    assert issued.access_token.startswith(TOKEN_PREFIX)
    assert issued.token_type == "bearer"
    assert issued.expires_in == int(TTL.total_seconds())
    owner = service.validate_token(issued.access_token)
    assert owner.username == "alice"
    assert owner.expires_at == clock.now + TTL


def test_every_issued_token_is_different(service: UserService) -> None:
    service.login(identity("alice"))
    tokens = {service.issue_token("alice").access_token for _ in range(20)}
    assert len(tokens) == 20


def test_a_revoked_token_is_rejected_at_once(service: UserService) -> None:
    service.login(identity("alice"))
    revoked = service.issue_token("alice").access_token
    other = service.issue_token("alice").access_token

    service.revoke_token(revoked)

    with pytest.raises(Unauthenticated):
        service.validate_token(revoked)
    # Revoking one token (a logout on one device) leaves the others working.
    assert service.validate_token(other).username == "alice"


def test_revoking_twice_or_revoking_an_unknown_token_is_harmless(service: UserService) -> None:
    service.login(identity("alice"))
    token = service.issue_token("alice").access_token
    service.revoke_token(token)
    service.revoke_token(token)
    service.revoke_token("dlk_never-issued")
    with pytest.raises(Unauthenticated):
        service.validate_token(token)


def test_a_token_expires_after_its_ttl(service: UserService, clock: FakeClock) -> None:
    service.login(identity("alice"))
    token = service.issue_token("alice").access_token

    clock.advance(TTL - timedelta(microseconds=1))
    assert service.validate_token(token).username == "alice"

    clock.advance(timedelta(microseconds=1))
    with pytest.raises(Unauthenticated):
        service.validate_token(token)


@pytest.mark.parametrize("token", ["", "dlk_unknown", "x" * 512, " ", "dlk_"])
def test_unknown_or_empty_tokens_are_unauthenticated(service: UserService, token: str) -> None:
    service.login(identity("alice"))
    service.issue_token("alice")
    with pytest.raises(Unauthenticated):
        service.validate_token(token)


def test_a_tokens_hash_is_not_a_token(service: UserService) -> None:
    """Presenting the stored hash (what a leaked table holds) must not authenticate."""
    service.login(identity("alice"))
    token = service.issue_token("alice").access_token
    with pytest.raises(Unauthenticated):
        service.validate_token(hash_token(token))


def test_tokens_are_stored_only_as_hashes(service: UserService, store: InMemoryUserStore) -> None:
    service.login(identity("alice"))
    token = service.issue_token("alice").access_token

    stored = repr(vars(store))

    assert hash_token(token) in stored  # proves we are looking where tokens live
    assert token not in stored
    assert token.removeprefix(TOKEN_PREFIX) not in stored
