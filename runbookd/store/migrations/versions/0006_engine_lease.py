"""engine lease: which replica runs the engine, with a fencing epoch

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:45:00.000000

Several replicas share one PostgreSQL database; one of them, the holder of this row, runs the
engine, the executor and the scheduled jobs (runbookd.service.lease, docs/decisions.md "Replicas").
One row per shard (only shard 0 exists), so partitioning the engine later needs no new protocol.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_lease",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shard"),
    )


def downgrade() -> None:
    op.drop_table("engine_lease")
