"""Tag operations on real Postgres and SQLite: racing other edits nothing is lost, the
tag rows agree with the links, no combination deadlocks into an error, and work split
into statement batches covers every link once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from delinkcious.errors import NotFound
from delinkcious.models import LinkFilter, LinkUpdate, NewLink, TagCount
from link_service import sql_tags
from link_service.sql_store import SqlLinkStore
from tests.link.conftest import make_service
from tests.link.test_service import all_urls
from tests.link.test_store import run_together

LINKS = 20


def test_rename_racing_tag_edits_loses_neither(sql_store: SqlLinkStore) -> None:
    service = make_service(sql_store)
    urls = [f"https://e.com/{i}" for i in range(LINKS)]
    for url in urls:
        service.add_link("alice", NewLink(url=url, tags=["old", "keep"]))
    before = len(sql_store.pending_events(1000))

    def act(i: int) -> object:
        if i == LINKS:
            return service.rename_tag("alice", "old", "new")
        return service.update_link("alice", LinkUpdate(url=urls[i], add_tags=[f"mine{i}"]))

    results = run_together(LINKS + 1, act)
    assert not [r for r in results if isinstance(r, Exception)], results
    links = {link.url: link.tags for link in service.list_links("alice", LinkFilter(), 100, "").links}
    assert links == {url: sorted(["keep", "new", f"mine{i}"]) for i, url in enumerate(urls)}
    # The tag table agrees with the links' own tag lists.
    assert sorted(all_urls(service, "alice", LinkFilter(tags=["new"]))) == sorted(urls)
    assert all_urls(service, "alice", LinkFilter(tags=["old"])) == []
    events = sql_store.pending_events(1000)[before:]
    assert len(events) == 2 * LINKS  # one per edit, one per renamed link
    assert {e.event_type.value for e in events} == {"link_updated"}


def test_opposite_renames_deletes_and_link_deletes_together_never_fail(sql_store: SqlLinkStore) -> None:
    service = make_service(sql_store)
    urls = [f"https://e.com/{i}" for i in range(LINKS)]
    for i, url in enumerate(urls):
        service.add_link("alice", NewLink(url=url, tags=["a", "b"] if i % 2 else ["a"]))
    actions: list[Callable[[], object]] = [
        lambda: service.rename_tag("alice", "a", "b"),
        lambda: service.rename_tag("alice", "b", "a"),
        lambda: service.delete_tag("alice", "b"),
        lambda: service.rename_tag("alice", "a", "c"),
        *[lambda u=url: service.delete_link("alice", u) for url in urls[::3]],
        *[
            lambda u=url: service.update_link("alice", LinkUpdate(url=u, add_tags=["d"]))
            for url in urls[1::3]
        ],
    ]
    results = run_together(len(actions), lambda i: actions[i]())
    failures = [r for r in results if isinstance(r, Exception) and not isinstance(r, NotFound)]
    assert failures == []
    left = {link.url: link.tags for link in service.list_links("alice", LinkFilter(), 100, "").links}
    assert set(left) == set(urls) - set(urls[::3])
    for tag in ("a", "b", "c", "d"):
        carrying = {url for url, tags in left.items() if tag in tags}
        assert set(all_urls(service, "alice", LinkFilter(tags=[tag]))) == carrying, tag
    counts = {t.name: t.count for t in service.list_tags("alice").tags}
    assert counts == {
        tag: n for tag in ("a", "b", "c", "d") if (n := sum(tag in tags for tags in left.values()))
    }


def test_rename_and_delete_across_many_statement_batches(
    sql_store: SqlLinkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_tags, "CHUNK", 3)  # 11 links: four batches, the last one short
    service = make_service(sql_store)
    urls = [f"https://e.com/{i}" for i in range(11)]
    for i, url in enumerate(urls):
        service.add_link("alice", NewLink(url=url, tags=["old", "new"] if i % 4 == 0 else ["old"]))
    service.add_link("alice", NewLink(url="https://e.com/other", tags=["new"]))
    before = len(sql_store.pending_events(1000))
    assert service.rename_tag("alice", "old", "new") == TagCount(name="new", count=12)
    renamed = sql_store.pending_events(1000)[before:]
    assert sorted(e.url for e in renamed) == sorted(urls)
    assert {link.url: link.tags for link in service.list_links("alice", LinkFilter(), 100, "").links} == {
        **{url: ["new"] for url in urls},
        "https://e.com/other": ["new"],
    }
    service.delete_tag("alice", "new")
    assert len(sql_store.pending_events(1000)) == before + 11 + 12
    assert service.list_tags("alice").tags == []
    assert all_urls(service, "alice", LinkFilter(tags=["new"])) == []
