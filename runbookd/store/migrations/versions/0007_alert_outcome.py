"""alert outcomes: what became of every ingested alert and event

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 13:00:00.000000

Issue 17: every alert runbookd accepts must be visible with what it did (opened or joined an
incident, waits in a correlation, counted towards a window, held by a ``for``, or matched no
runbook). The engine thread writes one row per ingested event in the transaction of the batch it
belongs to (runbookd.service.outcomes). ``GET /api/v1/alerts`` and ``/alerts`` read newest first,
optionally by name or outcome, always within a time range: hence the three indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_outcome",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=True),
        sa.Column("runbook", sa.String(length=128), nullable=True),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_outcome_at", "alert_outcome", ["at"])
    op.create_index("ix_alert_outcome_name", "alert_outcome", ["name", "at"])
    op.create_index("ix_alert_outcome_outcome", "alert_outcome", ["outcome", "at"])


def downgrade() -> None:
    op.drop_index("ix_alert_outcome_outcome", table_name="alert_outcome")
    op.drop_index("ix_alert_outcome_name", table_name="alert_outcome")
    op.drop_index("ix_alert_outcome_at", table_name="alert_outcome")
    op.drop_table("alert_outcome")
