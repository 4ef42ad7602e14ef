"""A link read back from the SQL store is the Link that validation would have made."""

from __future__ import annotations

from datetime import UTC, datetime

from delinkcious.models import Link, LinkStatus
from link_service.sql_store import SqlLinkStore
from link_service.store import pending_link


def test_a_stored_link_equals_its_validated_self(sql_store: SqlLinkStore) -> None:
    at = datetime(2026, 1, 2, 3, tzinfo=UTC)
    saved = pending_link("https://example.com/x", "title", "words", ["a", "b"], at, private=True)
    sql_store.add("alice", saved, 10)
    found = sql_store.get("alice", saved.url)
    assert found is not None
    read = found.link
    validated = Link.model_validate(read.model_dump())
    assert read == validated == saved
    assert read.model_dump_json() == validated.model_dump_json()
    assert isinstance(read.status, LinkStatus) and read.created_at.tzinfo is not None
    # A copy with changes (as updates and checks make) behaves as on a validated Link.
    changed = read.model_copy(update={"title": "new"})
    assert changed.title == "new" and read.title == "title"
    assert changed.model_fields_set == validated.model_fields_set
