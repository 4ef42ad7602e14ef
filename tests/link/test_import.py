"""Bulk import and export in link-manager, on every store: each entry checked alone,
merged as api.md says, written in batches with one event per change, the quota kept."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from delinkcious.bookmarks import ImportEntry, ImportResult
from delinkcious.models import EventType, Link, LinkFilter, LinkUpdate, NewLink
from link_service.bulk import BATCH_SIZE
from link_service.service import EXPORT_BATCH, LinkService
from tests.link.conftest import make_service

OLD = datetime(2012, 3, 4, 5, 6, 7, tzinfo=UTC)


def entry(url: str, **fields: object) -> ImportEntry:
    return ImportEntry.model_validate({"url": url, **fields})


def events(store: object) -> list[tuple[str, str, bool]]:
    pending = store.pending_events(1_000_000)  # type: ignore[attr-defined]
    return [(e.event_type.value, e.url, e.private) for e in pending]


def links_of(service: LinkService, owner: str = "alice") -> dict[str, Link]:
    return {link.url: link for link in service.export_links(owner)}


def counts(result: ImportResult) -> tuple[int, int, int, int, int]:
    return (result.total, result.created, result.updated, result.unchanged, result.failed)


def test_new_entries_are_created_with_their_fields(any_store: object) -> None:
    service = make_service(any_store)
    result = service.import_links(
        "alice",
        [
            entry("https://e.com/a", title=" A ", description="about a", tags=["x", "y"], created_at=OLD),
            entry("https://e.com/b", private=True),
        ],
        None,
    )
    assert counts(result) == (2, 2, 0, 0, 0) and result.errors == []
    a, b = links_of(service)["https://e.com/a"], links_of(service)["https://e.com/b"]
    assert (a.title, a.description, a.tags, a.private, a.created_at) == (
        "A",
        "about a",
        ["x", "y"],
        False,
        OLD,
    )
    assert a.status == "pending" and a.updated_at > OLD
    assert b.private and b.created_at == b.updated_at  # no date: now
    assert events(any_store) == [
        ("link_added", "https://e.com/a", False),
        ("link_added", "https://e.com/b", True),
    ]


def test_merging_into_existing_links(any_store: object) -> None:
    service = make_service(any_store)
    service.add_link("alice", NewLink(url="https://e.com/full", title="Kept", description="kept", tags=["a"]))
    service.add_link("alice", NewLink(url="https://e.com/empty"))
    service.add_link("alice", NewLink(url="https://e.com/same", title="T", tags=["a"]))
    before = len(events(any_store))
    result = service.import_links(
        "alice",
        [
            entry("https://e.com/full", title="New", description="new", tags=["b"], created_at=OLD),
            entry("https://e.com/empty", title="Filled", description="filled"),
            entry("https://e.com/same", title="Other", tags=["A"]),
        ],
        True,
    )
    assert counts(result) == (3, 0, 2, 1, 0)
    found = links_of(service)
    full, empty, same = found["https://e.com/full"], found["https://e.com/empty"], found["https://e.com/same"]
    assert (full.title, full.description, full.tags) == ("Kept", "kept", ["a", "b"])
    assert full.created_at != OLD and not full.private  # a merge changes only tags, title, description
    assert (empty.title, empty.description) == ("Filled", "filled")
    assert (same.title, same.tags) == ("T", ["a"])
    assert events(any_store)[before:] == [
        ("link_updated", "https://e.com/full", False),
        ("link_updated", "https://e.com/empty", False),
    ]


def test_a_url_repeated_in_the_file_merges_into_its_first_entry(any_store: object) -> None:
    service = make_service(any_store)
    result = service.import_links(
        "alice",
        [
            entry("https://e.com/r", tags=["a"]),
            entry("https://e.com/r", title="Second", tags=["b"]),
            entry("https://e.com/r", title="Third", tags=["a"]),
        ],
        None,
    )
    assert counts(result) == (3, 1, 1, 1, 0)
    link = links_of(service)["https://e.com/r"]
    assert (link.title, link.tags) == ("Second", ["a", "b"])
    assert [kind for kind, _, _ in events(any_store)] == ["link_added", "link_updated"]


def test_importing_the_same_entries_twice_creates_nothing_the_second_time(any_store: object) -> None:
    service = make_service(any_store)
    entries = [entry(f"https://e.com/{i}", title=f"t{i}", tags=["x"]) for i in range(BATCH_SIZE + 10)]
    assert counts(service.import_links("alice", entries, None)) == (len(entries), len(entries), 0, 0, 0)
    written = len(events(any_store))
    assert counts(service.import_links("alice", entries, None)) == (len(entries), 0, 0, len(entries), 0)
    assert len(events(any_store)) == written == len(entries)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (entry("javascript:alert(1)"), "absolute http or https"),
        (entry("place:sort=8&maxResults=10"), "absolute http or https"),
        (entry("file:///etc/passwd"), "absolute http or https"),
        (entry(""), "must not be empty"),
        (entry("https://"), "must have a host"),
        (entry("https://e.com/" + "x" * 2048), "longer than 2048"),
        (entry("https://e.com/t", tags=[f"t{i}" for i in range(51)]), "at most 50 tags"),
        (entry("https://e.com/t", tags=["has space"]), "whitespace"),
        (entry("https://e.com/t", title="x" * 501), "title is longer than 500"),
        (entry("https://e.com/t", description="x" * 10_001), "description is longer than 10000"),
        (entry("https://e.com/t", title="nul\x00"), "NUL"),
    ],
)
def test_a_bad_entry_fails_alone(any_store: object, bad: ImportEntry, message: str) -> None:
    service = make_service(any_store)
    result = service.import_links(
        "alice", [entry("https://e.com/ok1"), bad, entry("https://e.com/ok2")], None
    )
    assert counts(result) == (3, 2, 0, 0, 1)
    assert [e.url for e in result.errors] == [bad.url] and message in result.errors[0].message
    assert sorted(links_of(service)) == ["https://e.com/ok1", "https://e.com/ok2"]
    assert len(events(any_store)) == 2


def test_a_merge_that_would_pass_50_tags_fails_alone(any_store: object) -> None:
    service = make_service(any_store)
    service.add_link("alice", NewLink(url="https://e.com/m", tags=[f"a{i}" for i in range(30)]))
    result = service.import_links(
        "alice", [entry("https://e.com/m", tags=[f"b{i}" for i in range(30)])], None
    )
    assert counts(result) == (1, 0, 0, 0, 1) and "more than 50 tags" in result.errors[0].message
    assert len(links_of(service)["https://e.com/m"].tags) == 30


def test_the_link_limit_holds_and_merges_still_apply_past_it(any_store: object) -> None:
    service = make_service(any_store, max_links=5)
    service.add_link("alice", NewLink(url="https://e.com/existing"))
    entries = [entry(f"https://e.com/new{i}") for i in range(6)] + [
        entry("https://e.com/existing", tags=["t"])
    ]
    result = service.import_links("alice", entries, None)
    assert counts(result) == (7, 4, 1, 0, 2)
    assert all("at most 5 links" in e.message for e in result.errors)
    assert [e.url for e in result.errors] == ["https://e.com/new4", "https://e.com/new5"]
    assert len(links_of(service)) == 5
    # The quota the import used is the one single adds see.
    service.delete_link("alice", "https://e.com/new0")
    service.add_link("alice", NewLink(url="https://e.com/after-delete"))


def test_at_most_100_errors_are_listed_in_file_order(any_store: object) -> None:
    service = make_service(any_store)
    entries = [entry(f"ftp://e.com/{i}") for i in range(150)] + [entry("https://e.com/good")]
    result = service.import_links("alice", entries, None)
    assert counts(result) == (151, 1, 0, 0, 150)
    assert [e.url for e in result.errors] == [f"ftp://e.com/{i}" for i in range(100)]


def test_private_override(any_store: object) -> None:
    service = make_service(any_store)
    service.import_links("alice", [entry("https://e.com/p", private=False), entry("https://e.com/q")], True)
    service.import_links("alice", [entry("https://e.com/r", private=True)], False)
    found = links_of(service)
    assert (found["https://e.com/p"].private, found["https://e.com/q"].private) == (True, True)
    assert not found["https://e.com/r"].private
    assert [private for _, _, private in events(any_store)] == [True, True, False]


def test_imported_links_keep_list_order_by_created_at(any_store: object) -> None:
    service = make_service(any_store)
    service.add_link("alice", NewLink(url="https://e.com/saved-now"))
    service.import_links(
        "alice",
        [
            entry("https://e.com/2012", created_at=OLD),
            entry("https://e.com/2020", created_at=datetime(2020, 1, 1, tzinfo=UTC)),
        ],
        None,
    )
    listed = [link.url for link in service.list_links("alice", LinkFilter(), 10).links]
    assert listed == ["https://e.com/saved-now", "https://e.com/2020", "https://e.com/2012"]


def test_export_reads_every_link_newest_first_across_batches(any_store: object) -> None:
    service = make_service(any_store)
    total = EXPORT_BATCH * 2 + 7
    service.import_links(
        "alice",
        [
            entry(f"https://e.com/{i}", created_at=datetime(2000 + i % 20, 1, 1 + i % 28, tzinfo=UTC))
            for i in range(total)
        ],
        None,
    )
    service.add_link("bob", NewLink(url="https://e.com/bob"))
    exported = list(service.export_links("alice"))
    assert len(exported) == total and len({link.url for link in exported}) == total
    keys = [(link.created_at, link.url) for link in exported]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    assert [link.url for link in service.export_links("nobody")] == []


def test_export_while_links_change_repeats_none_and_skips_none_that_stay(any_store: object) -> None:
    service = make_service(any_store)
    service.import_links("alice", [entry(f"https://e.com/{i}") for i in range(EXPORT_BATCH + 50)], None)
    stream = service.export_links("alice")
    seen = [next(stream).url for _ in range(10)]
    service.delete_link("alice", "https://e.com/0")  # the oldest: not read yet
    service.add_link("alice", NewLink(url="https://e.com/new"))  # newest: before the position
    service.update_link("alice", LinkUpdate(url="https://e.com/5", add_tags=["x"]))
    seen += [link.url for link in stream]
    assert len(seen) == len(set(seen))
    assert set(seen) == {f"https://e.com/{i}" for i in range(1, EXPORT_BATCH + 50)}


def test_events_count_matches_outcomes_on_a_mixed_import(any_store: object) -> None:
    service = make_service(any_store, max_links=400)
    service.add_link("alice", NewLink(url="https://e.com/0"))
    entries = [entry(f"https://e.com/{i % 450}", tags=[f"t{i // 450}"]) for i in range(900)]
    result = service.import_links("alice", entries, None)
    kinds = Counter(kind for kind, _, _ in events(any_store))
    # url 0 existed; 1-399 fill the quota; 400-449 fail twice; the second pass tags 0-399.
    assert counts(result) == (900, 399, 401, 0, 100)
    assert kinds == {EventType.LINK_ADDED.value: 400, EventType.LINK_UPDATED.value: 401}
