"""link-manager's tables. The migrations create exactly these (a test checks they agree)."""

from __future__ import annotations

import sqlalchemy as sa

from delinkcious.db import UTCDateTime

metadata = sa.MetaData()

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")

links = sa.Table(
    "links",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("owner", sa.String(39), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    # The sorted tag list as JSON, for reading; link_tags is for filtering.
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("checked_at", UTCDateTime()),
    sa.UniqueConstraint("owner", "url", name="uq_links_owner_url"),
    # Listings: newest created_at first, ties by id; pages resume after a (created_at, id).
    sa.Index("ix_links_owner_created_id", "owner", "created_at", "id"),
    # Ids must never be reused: a check result names the link incarnation by id,
    # and the order relies on a later save having a higher id. SQLite reuses rowids without this.
    sqlite_autoincrement=True,
)

link_tags = sa.Table(
    "link_tags",
    metadata,
    sa.Column("link_id", sa.BigInteger, sa.ForeignKey("links.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Index("ix_link_tags_tag_link", "tag", "link_id"),
)

# One row per user holding their link count. Adds take this row's lock, which is
# what makes MAX_LINKS_PER_USER hold under concurrent adds.
link_quota = sa.Table(
    "link_quota",
    metadata,
    sa.Column("owner", sa.String(39), primary_key=True),
    sa.Column("link_count", sa.Integer, nullable=False),
    # The newest add, change or delete of the owner's links (what Pinboard's posts/update
    # answers): a deletion leaves no link behind to read it from. Null for rows written
    # before the column existed.
    sa.Column("changed_at", UTCDateTime()),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("link_id", sa.BigInteger, nullable=False),
    sa.Column("owner", sa.String(39), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("published_at", UTCDateTime()),
    # Whether the link was private after the change: its event then reaches no news.
    sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()),
    # The W3C trace context (and request id) of the write, so the published event
    # continues the request's trace. Null for rows written outside a trace.
    sa.Column("trace_context", sa.String(2048)),
    sa.Index(
        "ix_outbox_unpublished",
        "id",
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    ),
    sqlite_autoincrement=True,
)
