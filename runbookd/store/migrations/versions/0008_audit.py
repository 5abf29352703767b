"""audit log: who did what, through what, from where, and how it went

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 21:00:00.000000

Issue 18 section 4: every human or external action, refused ones too, with actor, role, kind,
via, address, target and outcome (runbookd.auth.audit). ``GET /api/v1/audit`` pages newest
first by id, filtered by actor or incident; the engine settles outcomes by journal_seq.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("journal_seq", _SEQ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_index("ix_audit_actor", "audit", ["actor", "id"])
    op.create_index("ix_audit_incident", "audit", ["incident_id", "id"])
    op.create_index("ix_audit_journal_seq", "audit", ["journal_seq"])


def downgrade() -> None:
    for name in ("ix_audit_journal_seq", "ix_audit_incident", "ix_audit_actor", "ix_audit_at"):
        op.drop_index(name, table_name="audit")
    op.drop_table("audit")
