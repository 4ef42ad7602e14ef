"""links, tags, per-user quota and the outbox

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from delinkcious.db import UTCDateTime

revision = "0001"
down_revision = None

BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(39), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("checked_at", UTCDateTime()),
        sa.UniqueConstraint("owner", "url", name="uq_links_owner_url"),
        # Ids must never be reused: a check result names the link incarnation by id,
        # and pagination relies on ids growing. SQLite reuses rowids without this.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_links_owner_id", "links", ["owner", "id"])
    op.create_table(
        "link_tags",
        sa.Column("link_id", sa.BigInteger, sa.ForeignKey("links.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_link_tags_tag_link", "link_tags", ["tag", "link_id"])
    op.create_table(
        "link_quota",
        sa.Column("owner", sa.String(39), primary_key=True),
        sa.Column("link_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("link_id", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.String(39), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime()),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("link_quota")
    op.drop_table("link_tags")
    op.drop_table("links")
