"""The writer's dedup memory is bounded, and a copy of an alert it no longer remembers is still
judged against the stored state: a retry, an HA copy or a stale firing is never accepted twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from runbookd.alerts.alertmanager import parse_notification
from runbookd.store import tables as t
from runbookd.store.writer import IngestJob, IngestResult, Writer
from runbookd.toolchain.testing import am_alert, am_notification

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def post(writer: Writer, host: str, status: str = "firing") -> IngestResult:
    labels = {"alertname": "NodeDown", "instance": host}
    ends = T0 + timedelta(minutes=5) if status == "resolved" else None
    body = am_notification([am_alert(labels, status=status, starts_at=T0, ends_at=ends)])
    events = parse_notification(body, received_at=datetime.now(UTC)).alerts
    result = writer.submit(IngestJob(events=events, source="alertmanager", received_at=T0))
    outcome: IngestResult = result.result(timeout=30)
    return outcome


def journaled(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.journal)).scalar() or 0)


def test_forgotten_fingerprints_are_judged_from_the_store(db: Engine) -> None:
    writer = Writer(db)
    writer._seen.capacity = 3  # remember only the last three fingerprints
    writer.start()
    try:
        hosts = [f"node-{i}" for i in range(10)]
        assert [post(writer, h).accepted for h in hosts] == [1] * 10
        assert len(writer._seen) == 3  # memory stays bounded by the capacity
        reads = writer._seen.store_reads

        # node-0 left memory long ago: its retry is still a duplicate ...
        assert (post(writer, "node-0").accepted, post(writer, "node-0").duplicates) == (0, 1)
        assert writer._seen.store_reads > reads  # ... because the store was asked
        # ... its resolution is news, and a stale firing after it is refused once forgotten too.
        assert post(writer, "node-1", "resolved").accepted == 1
        for host in hosts[2:]:
            post(writer, host)  # push node-1 out of memory again
        stale = post(writer, "node-1", "firing")
        assert (stale.accepted, stale.stale) == (0, 1)
    finally:
        writer.stop()
    assert journaled(db) == 11  # ten firings and one resolution: nothing accepted twice


def test_a_restarted_writer_needs_no_preload(db: Engine) -> None:
    first = Writer(db)
    first.start()
    try:
        post(first, "node-a")
    finally:
        first.stop()
    second = Writer(db)  # starts with an empty memory; the store remembers
    second.start()
    try:
        assert len(second._seen) == 0
        assert post(second, "node-a").duplicates == 1
    finally:
        second.stop()
    assert journaled(db) == 1
