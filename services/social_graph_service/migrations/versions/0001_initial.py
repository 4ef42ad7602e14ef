"""follows

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from delinkcious.db import UTCDateTime

revision = "0001"
down_revision = None

# Byte-order collation on Postgres; see sql_store.py.
USERNAME = sa.String(39).with_variant(sa.String(39, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("follower", USERNAME, primary_key=True),
        sa.Column("followed", USERNAME, primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_follows_followed_follower", "follows", ["followed", "follower"])


def downgrade() -> None:
    op.drop_index("ix_follows_followed_follower", table_name="follows")
    op.drop_table("follows")
