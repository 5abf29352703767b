"""engine snapshots: the engine's state at an applied seq, so a start replays only the tail

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 16:00:00.000000

Replaying the whole journal made a start with 100,000 stored events take ~50 s. The engine thread
now stores its state every so often (``runbookd.service.snapshots``); a start restores the newest usable
one and replays the journal entries after ``applied_seq`` and the ``engine_tick`` rows after
``tick_id``. Rows are few (the last two are kept) and read newest first by ``id``, the primary
key, so nothing else is indexed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "engine_snapshot",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("applied_seq", _SEQ, nullable=False),
        sa.Column("tick_id", _SEQ, nullable=False),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capture_s", sa.Float(), nullable=False),
        sa.Column("library_digest", sa.String(length=64), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("engine_snapshot")
