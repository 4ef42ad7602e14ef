"""The shared object model's validation, table by table, as api.md states the rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from delinkcious.models import (
    MAX_TAGS,
    Follow,
    Identity,
    Link,
    LinkFilter,
    LinkStatus,
    LinkUpdate,
    NewApiToken,
    NewLink,
    TokenOwner,
    User,
    Username,
)


def new_link(**fields: Any) -> NewLink:
    return NewLink.model_validate({"url": "https://example.com/a", **fields})


# ---------------------------------------------------------------- url

GOOD_URLS = [
    ("https://example.com/a", "https://example.com/a"),
    ("http://example.com", "http://example.com"),
    ("HTTPS://Example.COM/Path?Q=1#Frag", "HTTPS://Example.COM/Path?Q=1#Frag"),  # kept exactly
    ("  https://example.com/a  ", "https://example.com/a"),  # only the ends are trimmed
    ("\thttps://example.com/a\n", "https://example.com/a"),
    ("https://example.com/a%20b?x=%2F", "https://example.com/a%20b?x=%2F"),  # no re-encoding
    ("https://example.com/a/../b", "https://example.com/a/../b"),  # no normalising
    ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
    ("http://[::1]:80/", "http://[::1]:80/"),
    ("https://example.com/" + "a" * (2048 - 20), "https://example.com/" + "a" * (2048 - 20)),
]

BAD_URLS = [
    ("ftp://example.com/file", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("mailto:alice@example.com", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("data:text/html,hi", "scheme"),
    ("example.com/a", "relative"),
    ("//example.com/a", "scheme-relative"),
    ("/a/b", "path only"),
    ("http://", "no host"),
    ("http:///path", "no host"),
    ("https://:80/", "no host"),
    ("http:example.com", "no host"),
    ("", "empty"),
    ("   ", "blank"),
    ("https://exa mple.com/", "inner space"),
    ("https://example.com/a b", "inner space"),
    ("https://example.com/a\tb", "inner tab"),
    ("https://example.com/a\nb", "inner newline"),
    ("http://[::1/", "bad IPv6"),
    ("http://example.com:99999/", "port out of range"),
    ("http://example.com:port/", "port not a number"),
    ("https://example.com/" + "a" * (2049 - 20), "over 2048"),
]


@pytest.mark.parametrize(("given", "stored"), GOOD_URLS)
def test_good_urls_are_kept_exactly_after_trimming(given: str, stored: str) -> None:
    assert new_link(url=given).url == stored


def test_the_url_limit_is_2048_characters_after_trimming() -> None:
    url = "https://example.com/" + "a" * (2048 - 20)
    assert len(url) == 2048
    assert new_link(url=f"  {url}  ").url == url
    with pytest.raises(ValidationError):
        new_link(url=url + "a")


@pytest.mark.parametrize(("url", "why"), BAD_URLS, ids=[why for _, why in BAD_URLS])
def test_bad_urls_are_rejected(url: str, why: str) -> None:
    with pytest.raises(ValidationError) as refused:
        new_link(url=url)
    assert refused.value.errors()[0]["loc"] == ("url",)


@pytest.mark.parametrize("model", [NewLink, LinkUpdate])
def test_url_is_required_and_a_string(model: type[BaseModel]) -> None:
    for body in ({}, {"url": None}, {"url": 5}, {"url": ["https://example.com"]}):
        with pytest.raises(ValidationError):
            model.model_validate(body)


# ---------------------------------------------------------------- tags

TAGS = [
    (["Python", " web ", "python", "WEB"], ["python", "web"]),  # trim, lowercase, dedupe
    (["zeta", "alpha", "Mid"], ["alpha", "mid", "zeta"]),  # sorted
    ([], []),
    (["c++", "naïve", "日本", "a-b_c.d"], sorted(["c++", "naïve", "日本", "a-b_c.d"])),
    (["t" * 64], ["t" * 64]),
    ([f"tag{i}" for i in range(MAX_TAGS)], sorted(f"tag{i}" for i in range(MAX_TAGS))),
    # 51 given, 50 once deduplicated: the limit is on the tags the link ends up with.
    ([f"tag{i}" for i in range(MAX_TAGS)] + ["TAG0"], sorted(f"tag{i}" for i in range(MAX_TAGS))),
]

BAD_TAGS = [
    (["t" * 65], "65 characters"),
    ([""], "empty"),
    (["   "], "blank"),
    (["two words"], "inner space"),
    (["tab\there"], "inner tab"),
    (["new\nline"], "inner newline"),
    (["a,b"], "comma"),
    ([","], "only a comma"),
    ([f"tag{i}" for i in range(MAX_TAGS + 1)], "51 tags"),
    ("python", "a string, not a list"),
    ([5], "a number"),
    ([None], "null"),
]


@pytest.mark.parametrize(("given", "stored"), TAGS)
def test_tags_are_normalised(given: list[str], stored: list[str]) -> None:
    assert new_link(tags=given).tags == stored


@pytest.mark.parametrize(("tags", "why"), BAD_TAGS, ids=[why for _, why in BAD_TAGS])
def test_bad_tags_are_rejected_everywhere_tags_are_accepted(tags: Any, why: str) -> None:
    with pytest.raises(ValidationError):
        new_link(tags=tags)
    for field in ("add_tags", "remove_tags"):
        with pytest.raises(ValidationError):
            LinkUpdate.model_validate({"url": "https://example.com/a", field: tags})
    with pytest.raises(ValidationError):
        LinkFilter.model_validate({"tags": tags})


# ---------------------------------------------------------------- usernames

GOOD_USERNAMES = ["a", "0", "alice", "alice-liddell", "a-", "a--b", "1984", "a" * 39]
BAD_USERNAMES = [
    "",
    "-alice",
    "Alice",
    "a" * 40,
    "al_ice",
    "al.ice",
    "al ice",
    "ålice",
    "alice\n",
    " alice",
    "al/ice",
    "\uff41lice",  # fullwidth a
]


@pytest.mark.parametrize("name", GOOD_USERNAMES)
def test_good_usernames(name: str) -> None:
    assert TypeAdapter(Username).validate_python(name) == name
    assert Follow(follower=name, followed="bob").follower == name


@pytest.mark.parametrize("name", BAD_USERNAMES)
def test_bad_usernames(name: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Username).validate_python(name)


@pytest.mark.parametrize(
    ("given", "username"), [("Alice", "alice"), ("  BoB-99 ", "bob-99"), ("a" * 39, "a" * 39)]
)
def test_identity_usernames_from_providers_are_lowercased(given: str, username: str) -> None:
    assert Identity(provider="github", subject="1", username=given).username == username


@pytest.mark.parametrize("given", ["-Alice", "A" * 40, "Al_ice", "", "   "])
def test_identity_usernames_must_still_be_valid_once_lowercased(given: str) -> None:
    with pytest.raises(ValidationError):
        Identity(provider="github", subject="1", username=given)


# ---------------------------------------------------------------- title, description


def test_title_is_trimmed_and_at_most_500_characters() -> None:
    assert new_link(title="  Example  ").title == "Example"
    assert new_link(title="t" * 500).title == "t" * 500
    assert new_link(title=f" {'t' * 498} ").title == "t" * 498
    assert new_link().title == ""
    # The limit is the schema's maxLength, of the text as sent, trimmed or not.
    with pytest.raises(ValidationError):
        new_link(title=f"  {'t' * 500}  ")
    with pytest.raises(ValidationError):
        new_link(title="t" * 501)
    with pytest.raises(ValidationError):
        LinkUpdate.model_validate({"url": "https://example.com/a", "title": "t" * 501})


def test_a_token_name_is_trimmed_1_to_100_characters_as_sent() -> None:
    assert NewApiToken.model_validate({"name": "  backup  "}).name == "backup"
    assert NewApiToken.model_validate({"name": "n" * 100}).name == "n" * 100
    for name in ("", "   ", "\x1d" + "n" * 100, "n" * 101):
        with pytest.raises(ValidationError):
            NewApiToken.model_validate({"name": name})


def test_description_is_at_most_10000_characters() -> None:
    assert new_link(description="d" * 10_000).description == "d" * 10_000
    assert new_link().description == ""
    with pytest.raises(ValidationError):
        new_link(description="d" * 10_001)
    with pytest.raises(ValidationError):
        LinkUpdate.model_validate({"url": "https://example.com/a", "description": "d" * 10_001})


@pytest.mark.parametrize(
    "body",
    [
        '{"url": "https://example.com/a", "title": "\\udc00"}',
        '{"url": "https://example.com/a", "description": "x\\udfff"}',
        '{"url": "https://example.com/\\udc00"}',
        '{"url": "https://example.com/a", "tags": ["a\\udc80"]}',
    ],
)
def test_a_lone_surrogate_from_json_is_refused_not_stored(body: str) -> None:
    """JSON can spell a lone surrogate and FastAPI decodes bodies with the json module,
    which lets it through; no database can store one, so it is a 400 here rather than an
    encoding error (a 500) in the store."""
    with pytest.raises(ValidationError, match=r"surrogate|unicode"):
        NewLink.model_validate(json.loads(body))


def test_omitted_update_fields_stay_unset() -> None:
    update = LinkUpdate.model_validate({"url": "https://example.com/a"})
    assert (update.title, update.description, update.add_tags, update.remove_tags) == (None, None, [], [])


@pytest.mark.parametrize("model", [NewLink, LinkUpdate, LinkFilter, Identity, Follow])
def test_request_bodies_refuse_unknown_fields(model: type[BaseModel]) -> None:
    valid: dict[str, dict[str, Any]] = {
        "NewLink": {"url": "https://example.com/a"},
        "LinkUpdate": {"url": "https://example.com/a"},
        "LinkFilter": {},
        "Identity": {"provider": "github", "subject": "1", "username": "alice"},
        "Follow": {"follower": "alice", "followed": "bob"},
    }
    model.model_validate(valid[model.__name__])
    with pytest.raises(ValidationError):
        model.model_validate({**valid[model.__name__], "owner": "mallory"})


# Postgres refuses NUL in text ("A string literal cannot contain NUL"), so a NUL that
# passes validation becomes a 500 at the store. Each string that reaches a database
# must refuse it at validation, on every backend alike.
NUL_INPUTS: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
    ("url", NewLink, {"url": "https://example.com/a\x00b"}),
    ("title", NewLink, {"url": "https://example.com/a", "title": "a\x00b"}),
    ("description", NewLink, {"url": "https://example.com/a", "description": "a\x00b"}),
    ("tag", NewLink, {"url": "https://example.com/a", "tags": ["a\x00b"]}),
    ("identity provider", Identity, {"provider": "git\x00hub", "subject": "1", "username": "alice"}),
    ("identity subject", Identity, {"provider": "github", "subject": "1\x00", "username": "alice"}),
    ("identity name", Identity, {"provider": "github", "subject": "1", "username": "alice", "name": "A\x00"}),
    (
        "identity email",
        Identity,
        {"provider": "github", "subject": "1", "username": "alice", "email": "a\x00@b"},
    ),
]


def test_nul_characters_are_refused_in_every_stored_string() -> None:
    accepted = []
    for what, model, body in NUL_INPUTS:
        try:
            model.model_validate(body)
        except ValidationError:
            continue
        accepted.append(what)
    assert accepted == [], f"NUL accepted in: {', '.join(accepted)} (a 500 on Postgres)"


# ---------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("given", "wire"),
    [
        (datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC), "2026-11-25T12:00:00.123456Z"),
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), "2026-11-25T12:00:00.000000Z"),
        (
            datetime(2026, 11, 25, 13, 30, tzinfo=timezone(timedelta(hours=1, minutes=30))),
            "2026-11-25T12:00:00.000000Z",
        ),
        (datetime(2026, 11, 25, 7, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-11-25T12:00:00.000000Z"),
        (datetime(2026, 11, 25, 12, 0), "2026-11-25T12:00:00.000000Z"),  # naive means UTC
    ],
)
def test_timestamps_serialise_as_rfc3339_utc_with_z(given: datetime, wire: str) -> None:
    user = User(username="alice", created_at=given)
    assert json.loads(user.model_dump_json())["created_at"] == wire
    owner = TokenOwner(username="alice", expires_at=given)
    assert json.loads(owner.model_dump_json())["expires_at"] == wire
    # In Python the value is an aware UTC datetime of the same instant.
    assert user.created_at.utcoffset() == timedelta(0)
    assert user.created_at == (given if given.tzinfo else given.replace(tzinfo=UTC))


def test_timestamps_round_trip_through_json() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    link = Link(
        url="https://example.com/a",
        title="",
        description="",
        tags=[],
        status=LinkStatus.PENDING,
        created_at=at,
        updated_at=at,
    )
    wire = json.loads(link.model_dump_json())
    assert (wire["created_at"], wire["checked_at"]) == ("2026-01-02T03:04:05.000006Z", None)
    assert Link.model_validate_json(link.model_dump_json()) == link
