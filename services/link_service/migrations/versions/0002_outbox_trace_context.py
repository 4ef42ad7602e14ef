"""outbox rows carry the trace context of the write that produced them

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # Nullable, no default: adding it is instant, and rows already waiting are
    # published without a trace context.
    op.add_column("outbox", sa.Column("trace_context", sa.String(2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("trace_context")
