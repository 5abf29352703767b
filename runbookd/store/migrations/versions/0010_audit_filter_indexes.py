"""audit filter indexes: GET /api/v1/audit by target and by action without a table scan

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 01:40:00.000000

Issue 18 section 4: the audit log grows by every human action and is never pruned, and
``GET /api/v1/audit`` filters by ``target`` (an incident, a schedule) and ``action`` newest first.
``(column, id)`` serves both the filter and the ``before`` cursor, as ``ix_audit_actor`` does.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_target", "audit", ["target", "id"])
    op.create_index("ix_audit_action", "audit", ["action", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_action", table_name="audit")
    op.drop_index("ix_audit_target", table_name="audit")
