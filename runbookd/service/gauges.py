"""The gauges read from the store every few seconds: inbox depth, engine lag, open incidents and,
with replicas, the lease's epoch and a follower's lag."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from runbookd.service.metrics import Metrics
from runbookd.store import tables as t


def read_store_gauges(db_engine: Engine, m: Metrics, applied_seq: int) -> None:
    with db_engine.connect() as conn:
        pending = conn.execute(
            select(func.count(), func.min(t.journal.c.at)).where(t.journal.c.seq > applied_seq)
        ).one()
        rows = conn.execute(
            select(t.incident.c.status, t.incident.c.severity, func.count()).group_by(
                t.incident.c.status, t.incident.c.severity
            )
        ).all()
    m.inbox_depth.set(pending[0] or 0)
    oldest = pending[1]
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        m.engine_lag.set(max((datetime.now(UTC) - oldest).total_seconds(), 0.0))
    else:
        m.engine_lag.set(0)
    m.incidents.clear()
    for status, severity, n in rows:
        m.incidents.labels(status, severity).set(n)


def read_cluster_gauges(db_engine: Engine, metrics: Metrics, leads: bool, applied: int) -> None:
    """The lease's epoch and, on a follower, how far it trails the leader's stored watermark."""
    with db_engine.connect() as conn:
        stored = conn.execute(
            select(t.engine_state.c.applied_seq).where(t.engine_state.c.id == 1)
        ).scalar()
        epoch = conn.execute(select(func.max(t.engine_lease.c.epoch))).scalar()
    metrics.lease_epoch.set(epoch or 0)
    metrics.follower_lag.set(0 if leads else max(int(stored or 0) - applied, 0))
