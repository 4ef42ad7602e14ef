"""link_quota.changed_at: when the owner's links last changed, deletions included

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

from delinkcious.db import UTCDateTime

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    # Nullable, no default: Postgres adds it without rewriting the table. Readers fall
    # back to the newest link's updated_at while it is null.
    op.add_column("link_quota", sa.Column("changed_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("link_quota") as batch:
        batch.drop_column("changed_at")
