"""LinkService's rules, run against every store (in memory, Postgres, SQLite)."""

from __future__ import annotations

import pytest

from delinkcious.errors import AlreadyExists, InvalidArgument, LimitExceeded, NotFound
from delinkcious.models import LinkCheckResult, LinkFilter, LinkStatus, LinkUpdate, NewLink
from tests.link.conftest import make_service


def new(url: str, **kw: object) -> NewLink:
    return NewLink.model_validate({"url": url, **kw})


def all_urls(service, owner: str, filters: LinkFilter | None = None, page_size: int = 7) -> list[str]:
    urls, token = [], ""
    while True:
        page = service.list_links(owner, filters or LinkFilter(), page_size, token)
        urls += [link.url for link in page.links]
        token = page.next_page_token
        if not token:
            return urls


def test_add_returns_pending_link_with_normalized_tags(any_store: object) -> None:
    service = make_service(any_store)
    link = service.add_link(
        "alice", new(" https://example.com/a ", title="A", tags=["Web", "python", "web "])
    )
    assert link.url == "https://example.com/a"
    assert link.tags == ["python", "web"]
    assert link.status is LinkStatus.PENDING
    assert link.checked_at is None
    assert link.created_at == link.updated_at
    assert link.created_at.tzinfo is not None


def test_duplicate_url_is_already_exists_but_other_user_may_save_it(any_store: object) -> None:
    service = make_service(any_store)
    service.add_link("alice", new("https://example.com/a"))
    with pytest.raises(AlreadyExists):
        service.add_link("alice", new("https://example.com/a", title="again"))
    service.add_link("bob", new("https://example.com/a"))


def test_limit_is_enforced_and_freed_by_delete(any_store: object) -> None:
    service = make_service(any_store, max_links=2)
    service.add_link("alice", new("https://e.com/1"))
    service.add_link("alice", new("https://e.com/2"))
    with pytest.raises(LimitExceeded):
        service.add_link("alice", new("https://e.com/3"))
    service.add_link("bob", new("https://e.com/3"))  # the limit is per user
    service.delete_link("alice", "https://e.com/1")
    service.add_link("alice", new("https://e.com/3"))


def test_list_is_newest_first_and_pages_without_gaps(any_store: object) -> None:
    service = make_service(any_store)
    for i in range(23):
        service.add_link("alice", new(f"https://e.com/{i}"))
    service.add_link("bob", new("https://e.com/bob"))
    assert all_urls(service, "alice") == [f"https://e.com/{i}" for i in reversed(range(23))]
    last = service.list_links("alice", LinkFilter(), 3, "")
    assert len(last.links) == 3 and last.next_page_token


def test_exact_page_boundary_has_no_empty_trailing_page(any_store: object) -> None:
    service = make_service(any_store)
    for i in range(4):
        service.add_link("alice", new(f"https://e.com/{i}"))
    first = service.list_links("alice", LinkFilter(), 2, "")
    second = service.list_links("alice", LinkFilter(), 2, first.next_page_token)
    assert len(second.links) == 2 and second.next_page_token == ""


def test_filters_regex_case_insensitive_and_tags_all_required(any_store: object) -> None:
    service = make_service(any_store)
    service.add_link("alice", new("https://python.org", title="Python Home", tags=["python", "lang"]))
    service.add_link(
        "alice", new("https://go.dev", title="The Go language", description="Gophers", tags=["go", "lang"])
    )
    service.add_link(
        "alice", new("https://example.com/py", title="", description="about PYTHON", tags=["python"])
    )
    assert all_urls(service, "alice", LinkFilter(title_regex="python")) == ["https://python.org"]
    assert all_urls(service, "alice", LinkFilter(url_regex=r"\.(org|dev)$")) == [
        "https://go.dev",
        "https://python.org",
    ]
    assert all_urls(service, "alice", LinkFilter(description_regex="^about py")) == ["https://example.com/py"]
    assert all_urls(service, "alice", LinkFilter(tags=["LANG"])) == ["https://go.dev", "https://python.org"]
    assert all_urls(service, "alice", LinkFilter(tags=["lang", "python"])) == ["https://python.org"]
    assert all_urls(service, "alice", LinkFilter(tags=["lang", "nope"])) == []
    assert all_urls(service, "alice", LinkFilter(title_regex="go", tags=["python"])) == []


@pytest.mark.parametrize("pattern", ["(", "[a-", "a{2,1}", "(?<=x)y"])
def test_bad_regex_is_invalid_argument(any_store: object, pattern: str) -> None:
    service = make_service(any_store)
    with pytest.raises(InvalidArgument):
        service.list_links("alice", LinkFilter(title_regex=pattern), 10, "")


def test_page_token_is_bound_to_user_and_filters_and_tamper_evident(any_store: object) -> None:
    service = make_service(any_store)
    for i in range(5):
        service.add_link("alice", new(f"https://e.com/{i}", tags=["t"]))
    token = service.list_links("alice", LinkFilter(), 2, "").next_page_token
    with pytest.raises(InvalidArgument):
        service.list_links("bob", LinkFilter(), 2, token)
    with pytest.raises(InvalidArgument):
        service.list_links("alice", LinkFilter(tags=["t"]), 2, token)
    with pytest.raises(InvalidArgument):
        service.list_links(
            "alice", LinkFilter(), 2, token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        )
    with pytest.raises(InvalidArgument):
        service.list_links("alice", LinkFilter(), 2, "not-a-token")


def test_update_changes_only_given_fields_and_tags(any_store: object) -> None:
    service = make_service(any_store)
    created = service.add_link("alice", new("https://e.com/a", title="T", description="D", tags=["a", "b"]))
    updated = service.update_link(
        "alice", LinkUpdate(url="https://e.com/a", add_tags=["C", "a"], remove_tags=["b", "zzz"])
    )
    assert (updated.title, updated.description, updated.tags) == ("T", "D", ["a", "c"])
    assert updated.updated_at > created.updated_at
    assert updated.created_at == created.created_at
    updated = service.update_link("alice", LinkUpdate(url="https://e.com/a", title="New", description=""))
    assert (updated.title, updated.description, updated.tags) == ("New", "", ["a", "c"])
    assert all_urls(service, "alice", LinkFilter(tags=["c"])) == ["https://e.com/a"]
    assert all_urls(service, "alice", LinkFilter(tags=["b"])) == []


def test_update_rejects_conflicting_tags_too_many_tags_and_unknown_links(any_store: object) -> None:
    service = make_service(any_store)
    service.add_link("alice", new("https://e.com/a", tags=[f"t{i}" for i in range(49)]))
    with pytest.raises(InvalidArgument):
        service.update_link("alice", LinkUpdate(url="https://e.com/a", add_tags=["x"], remove_tags=["x"]))
    with pytest.raises(InvalidArgument):
        service.update_link("alice", LinkUpdate(url="https://e.com/a", add_tags=["x", "y"]))
    with pytest.raises(NotFound):
        service.update_link("alice", LinkUpdate(url="https://e.com/missing", title="x"))
    with pytest.raises(NotFound):
        service.update_link("bob", LinkUpdate(url="https://e.com/a", title="x"))


def test_delete_unknown_is_not_found(any_store: object) -> None:
    service = make_service(any_store)
    with pytest.raises(NotFound):
        service.delete_link("alice", "https://e.com/a")


def test_each_change_writes_exactly_one_outbox_event(any_store) -> None:
    service = make_service(any_store)
    service.add_link("alice", new("https://e.com/a", title="A"))
    service.update_link("alice", LinkUpdate(url="https://e.com/a", title="B"))
    service.delete_link("alice", "https://e.com/a")
    with pytest.raises(AlreadyExists):
        service.add_link("alice", new("https://e.com/b")) and service.add_link(
            "alice", new("https://e.com/b")
        )
    events = any_store.pending_events(100)
    assert [(e.event_type.value, e.url, e.title) for e in events] == [
        ("link_added", "https://e.com/a", "A"),
        ("link_updated", "https://e.com/a", "B"),
        ("link_deleted", "https://e.com/a", "B"),
        ("link_added", "https://e.com/b", ""),
    ]
    assert all(e.username == "alice" for e in events)
    assert len({e.event_id for e in events}) == 4
    any_store.mark_published([events[0].event_id, events[1].event_id], events[0].timestamp)
    assert [e.event_id for e in any_store.pending_events(100)] == [events[2].event_id, events[3].event_id]


def check(
    link_id: int, url: str, status: LinkStatus, at_seconds: int, title: str | None = None
) -> LinkCheckResult:
    from datetime import UTC, datetime, timedelta

    return LinkCheckResult(
        link_id=link_id,
        username="alice",
        url=url,
        status=status,
        title=title,
        checked_at=datetime(2026, 2, 1, tzinfo=UTC) + timedelta(seconds=at_seconds),
    )


def test_check_result_sets_status_and_fills_only_an_empty_title(any_store) -> None:
    service = make_service(any_store)
    service.add_link("alice", new("https://e.com/a"))
    service.add_link("alice", new("https://e.com/b", title="Mine"))
    a_id, b_id = (e.link_id for e in any_store.pending_events(10))
    assert service.apply_check(check(a_id, "https://e.com/a", LinkStatus.VALID, 1, "Page A"))
    assert service.apply_check(check(b_id, "https://e.com/b", LinkStatus.INVALID, 1, "Page B"))
    links = {link.url: link for link in service.list_links("alice", LinkFilter(), 10, "").links}
    assert (links["https://e.com/a"].status, links["https://e.com/a"].title) == (LinkStatus.VALID, "Page A")
    assert (links["https://e.com/b"].status, links["https://e.com/b"].title) == (LinkStatus.INVALID, "Mine")
    assert links["https://e.com/a"].checked_at is not None


def test_stale_or_orphaned_check_results_are_ignored(any_store) -> None:
    service = make_service(any_store)
    service.add_link("alice", new("https://e.com/a"))
    old_id = any_store.pending_events(10)[0].link_id
    assert service.apply_check(check(old_id, "https://e.com/a", LinkStatus.VALID, 10))
    assert not service.apply_check(check(old_id, "https://e.com/a", LinkStatus.INVALID, 5))  # older result
    service.delete_link("alice", "https://e.com/a")
    assert not service.apply_check(check(old_id, "https://e.com/a", LinkStatus.INVALID, 20))  # deleted
    service.add_link("alice", new("https://e.com/a"))
    # A result for the first incarnation must not touch the re-added link.
    assert not service.apply_check(check(old_id, "https://e.com/a", LinkStatus.INVALID, 30, "Old"))
    link = service.list_links("alice", LinkFilter(), 10, "").links[0]
    assert (link.status, link.title, link.checked_at) == (LinkStatus.PENDING, "", None)
    assert not service.apply_check(check(999_999, "https://e.com/zzz", LinkStatus.VALID, 40))
