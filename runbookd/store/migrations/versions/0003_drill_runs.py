"""drill runs: one row per drill of a runbook, with its score

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:30:00.000000

Drills (plan 12.1.2) run a runbook end to end on synthetic signals and score it; the /reports
page shows the recent scores, hence the index on ``started_at``. Rows are written once and never
updated, so nothing else is indexed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drill_run",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("runbook_id", sa.String(length=128), nullable=False),
        sa.Column("runbook_version", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("drill_run", schema=None) as batch_op:
        batch_op.create_index("ix_drill_run_started_at", ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("drill_run", schema=None) as batch_op:
        batch_op.drop_index("ix_drill_run_started_at")
    op.drop_table("drill_run")
