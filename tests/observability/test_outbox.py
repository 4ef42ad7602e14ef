"""The outbox keeps the trace context of the write that recorded each event, the relay
publishes the event in it, and the relay's gauges tell the backlog. On each store:
in memory, Postgres and SQLite (where the 0002 migration added the column to an
outbox that already had rows)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from opentelemetry import trace

from delinkcious import tracing
from delinkcious.db import create_db_engine, make_sessionmaker
from delinkcious.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from delinkcious.migrations import upgrade_to_head
from delinkcious.tracing import configure_tracing
from link_service.sql_store import SqlLinkStore
from link_service.store import InMemoryLinkStore, LinkStore, pending_link
from link_service.transport import MIGRATIONS
from link_service.workers import OutboxRelay

VERSION_TABLE = "alembic_version_link_manager"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _upgrade(engine: sa.Engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["version_table"] = VERSION_TABLE
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@pytest.fixture(params=["memory", "postgres", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[LinkStore]:
    configure_tracing("observability-tests")  # spans with real ids to capture
    if request.param == "memory":
        yield InMemoryLinkStore()
        return
    engine = create_db_engine(request.getfixturevalue(f"{request.param}_url"))
    try:
        _upgrade(engine, "0001")
        # A row waiting in the outbox when the new version's migration runs.
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO outbox (event_id, event_type, link_id, owner, url, title, occurred_at) "
                    "VALUES ('00000000-0000-0000-0000-000000000001', 'link_added', 1, 'old', "
                    "'https://old.example.com/', '', :at)"
                ),
                {"at": T0 - timedelta(hours=1)},
            )
        upgrade_to_head(engine, MIGRATIONS, VERSION_TABLE)
        sql_store = SqlLinkStore(make_sessionmaker(engine))
        sql_store.mark_published(["00000000-0000-0000-0000-000000000001"], T0)
        yield sql_store
    finally:
        engine.dispose()


def _add(store: LinkStore, owner: str, n: int, at: datetime) -> None:
    store.add(owner, pending_link(f"https://example.com/{owner}/{n}", "", "", [], at), 100)


class RecordingBus:
    """Stands in for the event bus: remembers the context each event went out in."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, str | None]] = []

    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: dict[str, str] | None = None
    ) -> None:
        context = trace.get_current_span().get_span_context()
        trace_id = format(context.trace_id, "032x") if context.is_valid else None
        self.sent.append((msg_id, trace_id, tracing.current_request_id()))


async def test_an_event_goes_out_in_the_trace_of_the_write_that_recorded_it(store: LinkStore) -> None:
    with tracing.request_id_bound("req-outbox-1"), tracing.span("the request") as request_span:
        _add(store, "alice", 1, T0)
    _add(store, "bob", 1, T0)  # outside any request: no context to keep

    entries = store.pending_outbox(10)
    assert [e.event.username for e in entries] == ["alice", "bob"]
    traced, untraced = entries
    carrier = tracing.restore(traced.trace_context)
    trace_id = format(request_span.get_span_context().trace_id, "032x")
    assert carrier["traceparent"].split("-")[1] == trace_id
    assert carrier["x-request-id"] == "req-outbox-1"
    assert untraced.trace_context is None

    bus = RecordingBus()
    relay = OutboxRelay(store, bus)  # type: ignore[arg-type]
    assert await relay.relay_once() == 2
    assert bus.sent[0] == (traced.event.event_id, trace_id, "req-outbox-1")
    assert bus.sent[1][0] == untraced.event.event_id and bus.sent[1][1] is None
    assert store.pending_outbox(10) == []


async def test_the_relay_gauges_show_the_backlog_and_the_age_of_its_oldest_event(
    store: LinkStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = OutboxRelay(store, RecordingBus())  # type: ignore[arg-type]
    now = T0 + timedelta(minutes=5)
    monkeypatch.setattr("link_service.workers.utcnow", lambda: now)

    await relay.observe_backlog()
    assert (_value(OUTBOX_BACKLOG), _value(OUTBOX_OLDEST_AGE)) == (0, 0)

    _add(store, "carol", 1, T0)
    _add(store, "carol", 2, T0 + timedelta(minutes=1))
    assert store.outbox_backlog() == (2, T0)
    await relay.observe_backlog()
    assert (_value(OUTBOX_BACKLOG), _value(OUTBOX_OLDEST_AGE)) == (2, 300)

    await relay.relay_once()
    await relay.observe_backlog()
    assert store.outbox_backlog() == (0, None)
    assert (_value(OUTBOX_BACKLOG), _value(OUTBOX_OLDEST_AGE)) == (0, 0)


def _value(gauge: Any) -> float:
    return float(gauge._value.get())
