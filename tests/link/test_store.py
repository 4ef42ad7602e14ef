"""SQL store behaviour that only a real database shows: races, paging under churn,
atomic outbox writes, and migrations matching the tables the code uses.
Each test runs on Postgres and on SQLite."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from delinkcious.errors import AlreadyExists, DelinkciousError, LimitExceeded
from delinkcious.models import LinkFilter, NewLink
from link_service.sql_store import SqlLinkStore
from link_service.tables import metadata
from tests.link.conftest import make_service


def run_together(n: int, action: Callable[[int], object]) -> list[object]:
    """Runs action(i) on n threads released at the same instant; returns results or errors."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_adds_one_below_the_limit_admit_exactly_one(sql_store: SqlLinkStore) -> None:
    limit = 30
    service = make_service(sql_store, max_links=limit)
    for i in range(limit - 1):
        service.add_link("alice", NewLink(url=f"https://e.com/existing/{i}"))
    results = run_together(20, lambda i: service.add_link("alice", NewLink(url=f"https://e.com/new/{i}")))
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"Link": 1, "LimitExceeded": 19}, results
    assert all(isinstance(r, LimitExceeded) for r in results if type(r).__name__ != "Link")
    pages = service.list_links("alice", LinkFilter(), 100, "")
    assert len(pages.links) == limit
    added = [e for e in sql_store.pending_events(1000) if "/new/" in e.url]
    assert len(added) == 1  # refused adds left no outbox row behind


def test_concurrent_adds_of_one_url_store_it_once(sql_store: SqlLinkStore) -> None:
    service = make_service(sql_store)
    results = run_together(10, lambda i: service.add_link("alice", NewLink(url="https://e.com/same")))
    assert sum(1 for r in results if not isinstance(r, DelinkciousError)) == 1, results
    assert all(isinstance(r, AlreadyExists) for r in results if isinstance(r, Exception))
    assert [e.event_type.value for e in sql_store.pending_events(100)] == ["link_added"]


def test_paging_250_links_under_churn_returns_each_exactly_once(sql_store: SqlLinkStore) -> None:
    service = make_service(sql_store)
    existing = {f"https://e.com/pre/{i}" for i in range(250)}
    for url in sorted(existing):
        service.add_link("alice", NewLink(url=url))
    seen: list[str] = []
    token, page_no, churn = "", 0, 0
    while True:
        page = service.list_links("alice", LinkFilter(), 20, token)
        seen += [link.url for link in page.links]
        # Between pages, other links come and go.
        for _ in range(3):
            service.add_link("alice", NewLink(url=f"https://e.com/churn/{churn}"))
            churn += 1
        service.delete_link("alice", f"https://e.com/churn/{churn - 2}")
        token, page_no = page.next_page_token, page_no + 1
        if not token:
            break
    pre_seen = [u for u in seen if u in existing]
    assert Counter(pre_seen) == Counter(existing)  # every pre-existing link exactly once
    assert len(seen) == len(set(seen))
    assert page_no >= 13


def test_regex_filters_agree_with_python_semantics_on_both_databases(sql_store: SqlLinkStore) -> None:
    service = make_service(sql_store)
    titles = ["Hello World", "hello there", "HELLO", "Say hello", "Bye", "héllo ünïcode", "a.b", "axb", ""]
    for i, title in enumerate(titles):
        service.add_link("alice", NewLink(url=f"https://e.com/{i}", title=title))
    cases = {
        "hello": {"Hello World", "hello there", "HELLO", "Say hello"},
        "^hello": {"Hello World", "hello there", "HELLO"},
        "hello$": {"HELLO", "Say hello"},
        "world|there": {"Hello World", "hello there"},
        r"a\.b": {"a.b"},
        "a.b": {"a.b", "axb"},
        "ünï": {"héllo ünïcode"},
        "[0-9]": set(),
        "^$": {""},
        "l{2}o": {"Hello World", "hello there", "HELLO", "Say hello", "héllo ünïcode"},
    }
    for pattern, expected in cases.items():
        page = service.list_links("alice", LinkFilter(title_regex=pattern), 100, "")
        assert {link.title for link in page.links} == expected, pattern


def test_migrations_create_exactly_the_tables_the_code_uses(sql_engine: Engine) -> None:
    with sql_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "alembic_version_link_manager"})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_a_failed_write_leaves_no_outbox_row(sql_store: SqlLinkStore, sql_engine: Engine) -> None:
    service = make_service(sql_store, max_links=1)
    service.add_link("alice", NewLink(url="https://e.com/a"))
    for attempt in (
        lambda: service.add_link("alice", NewLink(url="https://e.com/a")),
        lambda: service.add_link("alice", NewLink(url="https://e.com/b")),
    ):
        with contextlib.suppress(DelinkciousError):
            attempt()
    with sql_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM links")).scalar_one() == 1
