"""Private links and the created_at order, on every store (in memory, Postgres, SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from delinkcious.errors import InvalidArgument, NotFound
from delinkcious.models import DatedNewLink, LinkFilter, LinkUpdate, NewLink
from delinkcious.pagination import PageTokenCodec, time_position
from tests.link.conftest import PAGE_KEY, make_service
from tests.link.test_service import all_urls

DAY = datetime(2020, 5, 17, 12, 0, tzinfo=UTC)


def dated(url: str, at: datetime | None, **kw: object) -> DatedNewLink:
    return DatedNewLink.model_validate({"url": url, "created_at": at, **kw})


def test_private_is_stored_filtered_and_changed_by_update(any_store: object) -> None:
    service = make_service(any_store)
    public = service.add_link("alice", NewLink(url="https://e.com/public"))
    secret = service.add_link("alice", NewLink(url="https://e.com/secret", private=True))
    assert (public.private, secret.private) == (False, True)
    assert all_urls(service, "alice") == ["https://e.com/secret", "https://e.com/public"]
    assert all_urls(service, "alice", LinkFilter(private=True)) == ["https://e.com/secret"]
    assert all_urls(service, "alice", LinkFilter(private=False)) == ["https://e.com/public"]
    shown = service.update_link("alice", LinkUpdate(url="https://e.com/secret", private=False))
    assert shown.private is False
    kept = service.update_link("alice", LinkUpdate(url="https://e.com/secret", title="still public"))
    assert kept.private is False  # an update that does not name private leaves it
    assert all_urls(service, "alice", LinkFilter(private=True)) == []
    assert service.get_link("alice", "https://e.com/secret").title == "still public"


def test_every_event_says_whether_the_link_is_private_after_the_change(any_store) -> None:
    service = make_service(any_store)
    service.add_link("alice", NewLink(url="https://e.com/a", private=True))
    service.update_link("alice", LinkUpdate(url="https://e.com/a", private=False))
    service.update_link("alice", LinkUpdate(url="https://e.com/a", private=True))
    service.delete_link("alice", "https://e.com/a")
    events = any_store.pending_events(10)
    assert [(e.event_type.value, e.private) for e in events] == [
        ("link_added", True),
        ("link_updated", False),
        ("link_updated", True),
        ("link_deleted", True),
    ]


def test_lists_are_newest_created_at_first_ties_last_saved_first(any_store) -> None:
    service = make_service(any_store)
    service.add_link("alice", dated("https://e.com/2020", DAY))
    service.add_link("alice", NewLink(url="https://e.com/now"))  # the clock is in 2026
    service.add_link("alice", dated("https://e.com/2019", DAY - timedelta(days=365)))
    service.add_link("alice", dated("https://e.com/2020-again", DAY))
    service.add_link("alice", dated("https://e.com/2020-later", DAY + timedelta(microseconds=1)))
    expected = [
        "https://e.com/now",
        "https://e.com/2020-later",
        "https://e.com/2020-again",
        "https://e.com/2020",
        "https://e.com/2019",
    ]
    for page_size in (1, 2, 5):
        assert all_urls(service, "alice", page_size=page_size) == expected


def test_a_dated_link_keeps_its_date_but_is_saved_and_announced_now(any_store) -> None:
    service = make_service(any_store)
    link = service.add_link("alice", dated("https://e.com/old", DAY, title="Old"))
    assert link.created_at == DAY and link.updated_at > DAY
    assert service.get_link("alice", "https://e.com/old") == link
    (event,) = any_store.pending_events(10)
    # Followers' news is by the time of the change, not the date the import carried.
    assert event.timestamp == link.updated_at
    updated = service.update_link("alice", LinkUpdate(url="https://e.com/old", add_tags=["x"]))
    assert updated.created_at == DAY


def test_get_link_of_a_missing_url_or_another_user_is_not_found(any_store: object) -> None:
    service = make_service(any_store)
    service.add_link("alice", NewLink(url="https://e.com/a"))
    with pytest.raises(NotFound):
        service.get_link("alice", "https://e.com/b")
    with pytest.raises(NotFound):
        service.get_link("bob", "https://e.com/a")


def query_key(owner: str, filters: LinkFilter) -> dict[str, object]:
    return {"owner": owner, **filters.model_dump()}


@pytest.mark.parametrize(
    "token_of",
    [
        # What tokens looked like when positions held the last link's id alone.
        lambda codec: codec.encode(
            3,
            {"owner": "alice", "url_regex": None, "title_regex": None, "description_regex": None, "tags": []},
        ),
        lambda codec: codec.encode(3, query_key("alice", LinkFilter())),
        lambda codec: codec.encode([10**20, 3], query_key("alice", LinkFilter())),
        lambda codec: codec.encode([True, 3], query_key("alice", LinkFilter())),
        lambda codec: codec.encode(["2026-01-01T00:00:00Z", 3], query_key("alice", LinkFilter())),
        lambda codec: codec.encode([1, 2, 3], query_key("alice", LinkFilter())),
        lambda codec: codec.encode({"p": 1}, query_key("alice", LinkFilter())),
    ],
    ids=["old-format", "bare-id", "out-of-range-time", "bool", "string-time", "three-parts", "object"],
)
def test_a_token_of_another_shape_is_invalid_argument(any_store: object, token_of) -> None:
    service = make_service(any_store)
    for i in range(5):
        service.add_link("alice", NewLink(url=f"https://e.com/{i}"))
    token = token_of(PageTokenCodec(PAGE_KEY))
    with pytest.raises(InvalidArgument):
        service.list_links("alice", LinkFilter(), 2, token)


def test_a_well_formed_position_resumes_after_it(any_store: object) -> None:
    service = make_service(any_store)
    for i in range(3):
        service.add_link("alice", dated(f"https://e.com/{i}", DAY + timedelta(days=i)))
    # A position between the links: resumes with the first one older than it.
    token = PageTokenCodec(PAGE_KEY).encode(
        time_position(DAY + timedelta(days=1, hours=1), 0), query_key("alice", LinkFilter())
    )
    page = service.list_links("alice", LinkFilter(), 10, token)
    assert [link.url for link in page.links] == ["https://e.com/1", "https://e.com/0"]
