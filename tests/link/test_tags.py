"""Tags with counts, rename (merging) and delete, on every store (in memory, Postgres,
SQLite): the links change, the tag filter agrees, and each changed link emits one
link_updated."""

from __future__ import annotations

import pytest

from delinkcious.errors import InvalidArgument, NotFound
from delinkcious.models import MAX_TAGS, LinkFilter, NewLink, TagCount, TagList
from tests.link.conftest import make_service
from tests.link.test_service import all_urls


def seeded(store: object):
    service = make_service(store)
    service.add_link("alice", NewLink(url="https://e.com/1", tags=["python", "web"]))
    service.add_link("alice", NewLink(url="https://e.com/2", tags=["python", "py"]))
    service.add_link("alice", NewLink(url="https://e.com/3", tags=["py"], private=True))
    service.add_link("alice", NewLink(url="https://e.com/4"))
    service.add_link("bob", NewLink(url="https://e.com/1", tags=["python"]))
    return service


def tags_of(service, owner: str = "alice") -> dict[str, list[str]]:
    return {link.url: link.tags for link in service.list_links(owner, LinkFilter(), 100, "").links}


def updates(store, after: int) -> list[tuple[str, str, bool]]:
    return [(e.event_type.value, e.url, e.private) for e in store.pending_events(1000)[after:]]


def test_list_counts_each_tag_of_the_callers_links_sorted_by_name(any_store: object) -> None:
    service = seeded(any_store)
    assert service.list_tags("alice") == TagList(
        tags=[TagCount(name="py", count=2), TagCount(name="python", count=2), TagCount(name="web", count=1)]
    )
    assert service.list_tags("bob").tags == [TagCount(name="python", count=1)]
    assert service.list_tags("carol").tags == []


def test_list_sorts_by_code_point_not_by_a_locale(any_store: object) -> None:
    service = make_service(any_store)
    service.add_link("alice", NewLink(url="https://e.com/1", tags=["b", "a-b", "ab", "a_b", "z9", "é", "a"]))
    assert [t.name for t in service.list_tags("alice").tags] == ["a", "a-b", "a_b", "ab", "b", "z9", "é"]


def test_rename_moves_and_merges_and_emits_one_update_per_changed_link(any_store) -> None:
    service = seeded(any_store)
    before = len(any_store.pending_events(1000))
    result = service.rename_tag("alice", "py", "python")
    assert result == TagCount(name="python", count=3)
    assert tags_of(service) == {
        "https://e.com/1": ["python", "web"],
        "https://e.com/2": ["python"],  # had both: merged into one
        "https://e.com/3": ["python"],
        "https://e.com/4": [],
    }
    assert sorted(updates(any_store, before)) == [
        ("link_updated", "https://e.com/2", False),
        ("link_updated", "https://e.com/3", True),  # still private, so still nobody's news
    ]
    assert all_urls(service, "alice", LinkFilter(tags=["python"])) == [
        "https://e.com/3",
        "https://e.com/2",
        "https://e.com/1",
    ]
    assert all_urls(service, "alice", LinkFilter(tags=["py"])) == []
    assert tags_of(service, "bob") == {"https://e.com/1": ["python"]}  # other users untouched
    assert [t.name for t in service.list_tags("alice").tags] == ["python", "web"]


def test_rename_to_a_new_name_and_the_changed_links_updated_at(any_store) -> None:
    service = seeded(any_store)
    before = {link.url: link for link in service.list_links("alice", LinkFilter(), 100, "").links}
    assert service.rename_tag("alice", " WEB ", "Www") == TagCount(name="www", count=1)
    after = {link.url: link for link in service.list_links("alice", LinkFilter(), 100, "").links}
    assert after["https://e.com/1"].tags == ["python", "www"]
    assert after["https://e.com/1"].updated_at > before["https://e.com/1"].updated_at
    assert after["https://e.com/1"].created_at == before["https://e.com/1"].created_at
    assert after["https://e.com/2"] == before["https://e.com/2"]  # not tagged: not touched


def test_rename_of_a_tag_no_link_has_is_not_found_and_changes_nothing(any_store) -> None:
    service = seeded(any_store)
    before = len(any_store.pending_events(1000))
    with pytest.raises(NotFound):
        service.rename_tag("alice", "nope", "other")
    with pytest.raises(NotFound):
        service.rename_tag("bob", "py", "other")  # alice's tag, not bob's
    with pytest.raises(NotFound):
        service.rename_tag("alice", "nope", "nope")
    assert len(any_store.pending_events(1000)) == before


@pytest.mark.parametrize("bad", ["", "   ", "a b", "a,b", "t" * 65, "nul\x00"])
def test_a_bad_name_is_invalid_argument(any_store: object, bad: str) -> None:
    service = seeded(any_store)
    with pytest.raises(InvalidArgument):
        service.rename_tag("alice", "py", bad)
    with pytest.raises(InvalidArgument):
        service.rename_tag("alice", bad, "ok")
    with pytest.raises(InvalidArgument):
        service.delete_tag("alice", bad)
    assert tags_of(service)["https://e.com/2"] == ["py", "python"]


def test_rename_to_the_same_name_answers_the_count_and_changes_nothing(any_store) -> None:
    service = seeded(any_store)
    before = len(any_store.pending_events(1000))
    assert service.rename_tag("alice", "Py", "py") == TagCount(name="py", count=2)
    assert len(any_store.pending_events(1000)) == before


def test_rename_on_a_link_with_the_most_tags_keeps_it_valid(any_store: object) -> None:
    service = make_service(any_store)
    full = [f"t{i:02d}" for i in range(MAX_TAGS)]
    service.add_link("alice", NewLink(url="https://e.com/full", tags=full))
    assert service.rename_tag("alice", "t00", "zz") == TagCount(name="zz", count=1)
    assert service.rename_tag("alice", "t01", "t02") == TagCount(name="t02", count=1)
    tags = tags_of(service)["https://e.com/full"]
    assert len(tags) == MAX_TAGS - 1 and "zz" in tags and "t00" not in tags and "t01" not in tags


def test_delete_removes_the_tag_everywhere_with_one_update_per_link(any_store) -> None:
    service = seeded(any_store)
    before = len(any_store.pending_events(1000))
    service.delete_tag("alice", "PYTHON")
    assert tags_of(service) == {
        "https://e.com/1": ["web"],
        "https://e.com/2": ["py"],
        "https://e.com/3": ["py"],
        "https://e.com/4": [],
    }
    assert sorted(updates(any_store, before)) == [
        ("link_updated", "https://e.com/1", False),
        ("link_updated", "https://e.com/2", False),
    ]
    assert tags_of(service, "bob") == {"https://e.com/1": ["python"]}
    with pytest.raises(NotFound):
        service.delete_tag("alice", "python")  # gone now
    assert all_urls(service, "alice", LinkFilter(tags=["python"])) == []
