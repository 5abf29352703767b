"""webhook_event: inbound webhook deliveries already acted on, keyed (source, event_id)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 00:30:00.000000

Issue 18 section 2: PagerDuty v3 webhooks are retried until they get a 2xx, so the same event
arrives more than once, at any replica, also after a restart. One row per (source, event id)
makes the acknowledgement or resolution it carries happen once (runbookd.store.webhook_events).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_event",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("source", "event_id"),
    )
    op.create_index("ix_webhook_event_received_at", "webhook_event", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_event_received_at", table_name="webhook_event")
    op.drop_table("webhook_event")
