"""post-mortem edits: follow-up items, lessons, and an index to find an incident's runbooks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:30:00.000000

Follow-ups and lessons are what people add to a post-mortem; everything else in it is computed
from the incident, its timeline and the journaled runbook library. ``ix_journal_library`` is
partial (only ``runbooks`` entries), so finding the library an incident ran under is one index
probe and the alert path pays nothing for it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LIBRARY_ROWS = sa.text("kind = 'runbooks'")


def upgrade() -> None:
    op.create_table(
        "follow_up",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=256), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index("ix_follow_up_incident", ["incident_id", "id"], unique=False)
        batch_op.create_index("ix_follow_up_status", ["status", "due_date"], unique=False)

    op.create_table(
        "lessons",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.create_index(
        "ix_journal_library",
        "journal",
        ["seq"],
        unique=False,
        sqlite_where=_LIBRARY_ROWS,
        postgresql_where=_LIBRARY_ROWS,
    )


def downgrade() -> None:
    op.drop_index("ix_journal_library", table_name="journal")
    op.drop_table("lessons")
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_up_status")
        batch_op.drop_index("ix_follow_up_incident")
    op.drop_table("follow_up")
