"""links can be private (and their events say so); listings order by created_at

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    # A constant server default: Postgres adds such a column without rewriting the
    # table, and rows written by an older release (which omits the column) stay valid.
    op.add_column("links", sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("outbox", sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_links_owner_created_id", "links", ["owner", "created_at", "id"])
    # The new index leads with owner too, so it serves every lookup the old one did.
    op.drop_index("ix_links_owner_id", table_name="links")


def downgrade() -> None:
    op.create_index("ix_links_owner_id", "links", ["owner", "id"])
    op.drop_index("ix_links_owner_created_id", table_name="links")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("private")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("private")
