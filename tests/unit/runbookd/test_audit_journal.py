"""An action's audit record is written with its journal entry, and settled by the engine commit
that applied it: an action stored just before a crash is in the log as pending, and the engine
that starts after the crash settles it -- applied, or refused with the engine's reason."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from runbookd.auth.audit import AuditRecord
from runbookd.auth.roles import Principal, Role
from runbookd.service.audit import journaled
from runbookd.service.worker import Worker
from runbookd.store import tables as t
from runbookd.store.writer import Writer
from tests.unit.postmortem.rig import Rig

ANA = Principal("ana", Role.RESPONDER, "slack", "10.0.0.5")


def _audit(rig: Rig) -> list[dict[str, Any]]:
    with rig.db.connect() as conn:
        rows = conn.execute(select(t.audit).order_by(t.audit.c.id)).all()
    return [dict(r._mapping) for r in rows]


def _store(rig: Rig, action: str, **payload: Any) -> int:
    """Journal an action the way the API does, through the one writer, without applying it."""
    writer = Writer(rig.db)
    writer.start()
    try:
        record = AuditRecord.of(ANA, action, "incident", "INC-1", incident="INC-1")
        body = {"action": action, "incident": "INC-1", "by": "ana", "principal": ANA.to_json()}
        job = journaled("action", {**body, **payload}, record, at=rig.wall.now())
        return int(writer.submit(job).result(timeout=10))
    finally:
        writer.stop()


def test_a_stored_action_is_pending_until_applied_and_settled_after_a_restart(rig: Rig) -> None:
    rig.alert("PaymentFailureRateHigh", channel="alipay")
    rig.alert("PaymentChannelProbeFailed", channel="alipay")
    seq = _store(rig, "ack")
    [pending] = _audit(rig)
    assert (pending["journal_seq"], pending["outcome"]) == (seq, "pending")

    restarted = Worker(rig.db, wall=rig.wall)  # the process crashed before applying it
    restarted.recover()
    while restarted._step():
        pass

    [settled] = _audit(rig)
    assert (settled["outcome"], settled["reason"]) == ("applied", None)
    assert (settled["actor"], settled["via"], settled["address"]) == ("ana", "slack", "10.0.0.5")
    with rig.db.connect() as conn:
        summary = conn.execute(
            select(t.timeline.c.summary).where(t.timeline.c.kind == "acknowledge")
        ).scalar_one()
    assert summary == "by ana (responder) via slack from 10.0.0.5"


def test_an_action_the_engine_refuses_is_settled_as_refused_with_its_reason(rig: Rig) -> None:
    rig.alert("PaymentFailureRateHigh", channel="alipay")
    rig.alert("PaymentChannelProbeFailed", channel="alipay")
    _store(rig, "decide", approval="INC-1:no_such_step", approved=True)
    rig._run()
    [row] = _audit(rig)
    assert row["outcome"] == "refused"
    assert row["reason"] and "no_such_step" in row["reason"]
