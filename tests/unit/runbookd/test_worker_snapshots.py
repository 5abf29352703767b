"""Worker snapshots: a restart restores the newest usable snapshot and replays only the tail, and
ends in the state the engine had before it stopped; a snapshot it cannot use costs time, not
correctness. Runs on SQLite, and on PostgreSQL with RUNBOOKD_TEST_DATABASE_URL set."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, func, select, update

from runbookd.engine.events import Event
from runbookd.engine.snapshot import comparable_state
from runbookd.service.journal import library_payload
from runbookd.service.snapshots import SnapshotPolicy
from runbookd.service.worker import Worker
from runbookd.store import tables as t
from runbookd.toolchain.testing import fingerprint
from tests.unit.postmortem.rig import PAYMENT, T0, Rig, database_url, run_payment_outage

#: A snapshot every few entries, whatever it costs: deterministic, and many of them.
OFTEN = SnapshotPolicy(every_entries=3, every_s=1e9, max_share=None)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with database_url(tmp_path) as url:
        rig = Rig(url)
        rig.worker.snapshots.policy = OFTEN
        yield rig
        rig.db.dispose()


def busy_history(rig: Rig) -> None:
    """One incident handled end to end, others left open mid-way, correlation halves waiting."""
    run_payment_outage(rig)
    rig.alert("PaymentFailureRateHigh", channel="wechat")
    rig.at(timedelta(minutes=11))
    rig.alert("PaymentChannelProbeFailed", channel="wechat")  # opens INC-2, waits for approval
    rig.at(timedelta(minutes=12))
    rig.action(action="ack", incident="INC-2", by="alice")
    rig.at(timedelta(minutes=19))  # escalation and approval timers fire on ticks
    rig.alert("PaymentFailureRateHigh", channel="unionpay")  # a half waiting for its partner
    rig.at(timedelta(minutes=20))


def restarted(rig: Rig, **kwargs: object) -> tuple[Worker, int]:
    worker = Worker(rig.db, wall=rig.wall, snapshots=OFTEN, **kwargs)  # type: ignore[arg-type]
    replayed = worker.recover()
    while worker._step():  # what the stopped worker applied but had not stored a watermark for
        pass
    return worker, replayed


def stored(rig: Rig, column: ColumnElement[int]) -> list[int]:
    with rig.db.connect() as conn:
        query = select(column).order_by(t.engine_snapshot.c.id)
        return [int(v) for v in conn.execute(query).scalars()]


def journal_size(rig: Rig) -> int:
    with rig.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.journal)).scalar() or 0)


def test_restart_from_a_snapshot_replays_only_the_tail_and_ends_in_the_same_state(
    rig: Rig,
) -> None:
    busy_history(rig)
    before = comparable_state(rig.worker.engine)
    # INC-1 resolved more than engine.retention ago and left memory; INC-2 waits for approval.
    assert set(rig.worker.engine.incidents) == {"INC-2"}
    assert before["pending"], "a correlation half is waiting inside durable_rules"
    snapshots = stored(rig, t.engine_snapshot.c.applied_seq)
    assert len(snapshots) == 2  # older ones pruned

    worker, replayed = restarted(rig)

    # Only what came after the newest snapshot (one every 3 entries) is replayed.
    assert replayed < 3 < journal_size(rig)
    assert comparable_state(worker.engine) == before
    assert worker.library_digest == rig.worker.library_digest
    assert worker.approvals == rig.worker.approvals
    # The restored engine goes on exactly as the original would have.
    event = Event(
        name="PaymentChannelProbeFailed",
        at=rig.wall.now(),
        kind="alert",
        labels={"alertname": "PaymentChannelProbeFailed", "channel": "unionpay"},
        fingerprint=fingerprint({"alertname": "PaymentChannelProbeFailed", "channel": "unionpay"}),
        source="alertmanager",
    )
    worker.clock.set(rig.wall.now())
    rig.worker.clock.set(rig.wall.now())
    assert worker.engine.ingest(event) == rig.worker.engine.ingest(event)
    assert comparable_state(worker.engine) == comparable_state(rig.worker.engine)


def test_an_unusable_snapshot_falls_back_to_the_older_one_then_to_a_full_replay(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    busy_history(rig)
    before = comparable_state(rig.worker.engine)
    _, newest = stored(rig, t.engine_snapshot.c.id)
    with rig.db.begin() as conn:
        conn.execute(
            update(t.engine_snapshot).where(t.engine_snapshot.c.id == newest).values(data=b"junk")
        )
    with caplog.at_level(logging.WARNING, logger="runbookd.service.snapshots"):
        worker, replayed_older = restarted(rig)
    assert "not used" in caplog.text
    assert comparable_state(worker.engine) == before

    with rig.db.begin() as conn:  # written by other code: not trusted either
        conn.execute(update(t.engine_snapshot).values(code="0" * 64))
    worker, replayed_all = restarted(rig)
    assert comparable_state(worker.engine) == before
    assert replayed_older < replayed_all == worker.applied_seq


def test_snapshots_off_means_a_full_replay_and_nothing_stored(tmp_path: Path) -> None:
    with database_url(tmp_path) as url:
        rig = Rig(url)
        rig.worker.snapshots.policy = SnapshotPolicy(every_entries=0)
        run_payment_outage(rig)
        assert stored(rig, t.engine_snapshot.c.id) == []
        worker, replayed = restarted(rig)
        assert replayed == journal_size(rig)
        assert comparable_state(worker.engine) == comparable_state(rig.worker.engine)
        rig.db.dispose()


def test_an_incident_opened_under_an_older_library_keeps_it_across_a_restart(rig: Rig) -> None:
    rig.alert("PaymentFailureRateHigh", channel="alipay")
    rig.at(timedelta(seconds=30))
    rig.alert("PaymentChannelProbeFailed", channel="alipay")  # INC-1 under version 1
    text = PAYMENT.read_text()
    assert "version: 1" in text
    rig._journal(
        "runbooks", library_payload([(str(PAYMENT), text.replace("version: 1", "version: 2"))])
    )
    rig.at(timedelta(minutes=1))
    rig.alert("PaymentFailureRateHigh", channel="wechat")
    rig.at(timedelta(minutes=2))
    rig.alert("PaymentChannelProbeFailed", channel="wechat")  # INC-2 under version 2
    rig.at(timedelta(minutes=3))
    before = comparable_state(rig.worker.engine)

    worker, _ = restarted(rig)

    incidents = worker.engine.incidents
    assert incidents["INC-1"].compiled.runbook.version == 1
    assert incidents["INC-2"].compiled.runbook.version == 2
    assert comparable_state(worker.engine) == before
    assert worker.clock.now() > T0


def test_a_clean_stop_stores_the_state_so_the_next_start_replays_nothing(tmp_path: Path) -> None:
    with database_url(tmp_path) as url:
        rig = Rig(url)
        rig.worker.snapshots.policy = SnapshotPolicy(every_entries=10_000)  # none while running
        busy_history(rig)
        assert stored(rig, t.engine_snapshot.c.id) == []
        before = comparable_state(rig.worker.engine)
        rig.worker.stop()
        assert stored(rig, t.engine_snapshot.c.applied_seq) == [journal_size(rig)]
        worker, replayed = restarted(rig)
        assert replayed == 0
        assert comparable_state(worker.engine) == before
        rig.db.dispose()
