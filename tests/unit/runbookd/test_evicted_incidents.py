"""A resolved incident that has left the engine's memory (engine.timing.RETENTION) is still the
user's: notes, close, reopen and a late connector result work on it and show in its stored row
and timeline, and a restart rebuilds exactly the state the running engine had.

Driven through the real journal, worker and tables (tests/unit/postmortem/rig.py), with the
action payloads built the way the API builds them (``runbookd.api.incidents``).
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import select

from runbookd.api.incidents import read_incident, stored_record
from runbookd.engine.events import Event
from runbookd.engine.runtime import Engine as RulesEngine
from runbookd.engine.timing import RETENTION
from runbookd.service.core import Service
from runbookd.service.journal import library_payload
from runbookd.service.worker import Worker
from runbookd.store import tables as t
from runbookd.store.codec import loads
from runbookd.toolchain.testing import fingerprint
from tests.unit.postmortem.rig import T0, Rig


def as_api(rig: Rig, incident_id: str, **payload: Any) -> dict[str, Any]:
    """A person's action as the API journals it: with the stored row for settled incidents."""
    service = cast(Service, SimpleNamespace(db=rig.db))
    current = read_incident(service, incident_id)
    payload = {"incident": incident_id, **payload}
    if payload["action"] in ("note", "close", "reopen"):
        payload["stored"] = stored_record(service, current)
    return payload


def act(rig: Rig, incident_id: str, **payload: Any) -> None:
    rig.action(**as_api(rig, incident_id, **payload))


def row(rig: Rig, incident_id: str) -> dict[str, Any]:
    with rig.db.connect() as conn:
        found = conn.execute(select(t.incident).where(t.incident.c.id == incident_id)).one()
    return dict(found._mapping)


def timeline(rig: Rig, incident_id: str) -> list[tuple[str, dict[str, Any]]]:
    with rig.db.connect() as conn:
        rows = conn.execute(
            select(t.timeline.c.kind, t.timeline.c.data)
            .where(t.timeline.c.incident_id == incident_id)
            .order_by(t.timeline.c.id)
        ).all()
    return [(kind, loads(data)) for kind, data in rows]


def outage(rig: Rig, channel: str = "alipay") -> None:
    """Both signals for ``channel``, then both resolved: the incident resolves."""
    rig.alert("PaymentFailureRateHigh", channel=channel)
    rig.alert("PaymentChannelProbeFailed", channel=channel)
    rig.action(action="ack", incident="INC-1", by="alice")
    rig.alert("PaymentFailureRateHigh", status="resolved", channel=channel)
    rig.alert("PaymentChannelProbeFailed", status="resolved", channel=channel)


def later(rig: Rig, offset: timedelta) -> None:
    """Time passes; an unrelated alert is the input at which the engine looks at its memory."""
    rig.at(offset)
    rig.alert("SomethingElse", instance="x")


def engine_state(engine: RulesEngine) -> dict[str, Any]:
    """What the engine keeps, in comparable form."""
    return {
        "incidents": {
            i.id: (
                i.status.value,
                i.key,
                i.level,
                i.cycle,
                len(i.levels_reached),
                dict(i.alerts),
                dict(i.alert_names),
                i.retire_at,
                i.resolved_at,
                i.closed_at,
                [(c.kind, c.at) for c in i.timeline],
            )
            for i in engine.incidents.values()
        },
        "open": dict(engine._open),
        "calls": dict(engine._calls),
        "timers": [(x.name, x.due) for x in engine.timers.live()],
        "retiring": list(engine._retiring),
        "windows": {k: len(v) for k, v in engine._windows.items()},
        "rails": (dict(engine.rails._runs), dict(engine.rails._targets)),
    }


def recovered(rig: Rig) -> RulesEngine:
    """A restart: replay up to the stored watermark, then apply the rest as the loop does."""
    worker = Worker(rig.db, wall=rig.wall)
    worker.recover()
    while worker._step():
        pass
    return worker.engine


def test_a_resolved_incident_leaves_memory_but_not_the_store(rig: Rig) -> None:
    outage(rig)
    assert row(rig, "INC-1")["status"] == "resolved"
    later(rig, RETENTION - timedelta(minutes=1))
    assert "INC-1" in rig.worker.engine.incidents
    later(rig, RETENTION + timedelta(minutes=1))
    assert "INC-1" not in rig.worker.engine.incidents
    stored = row(rig, "INC-1")
    assert stored["status"] == "resolved" and stored["alerts"] == 2
    assert {a["name"] for a in stored["detail"]["alerts"]} == {
        "PaymentFailureRateHigh",
        "PaymentChannelProbeFailed",
    }
    assert engine_state(recovered(rig)) == engine_state(rig.worker.engine)


def test_note_close_and_reopen_work_after_the_incident_left_memory(rig: Rig) -> None:
    outage(rig)
    later(rig, RETENTION * 2)
    before = row(rig, "INC-1")

    act(rig, "INC-1", action="note", text="root cause: expired certificate", by="carol")
    assert ("note", {"text": "root cause: expired certificate", "by": "carol"}) in timeline(
        rig, "INC-1"
    )
    assert row(rig, "INC-1") == before  # a note changes the timeline only

    # Two people close it at once: both requests read the row while it was resolved.
    second = as_api(rig, "INC-1", action="close", by="dave")
    act(rig, "INC-1", action="close", by="carol")
    closed = row(rig, "INC-1")
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert closed["alerts"] == before["alerts"]
    assert closed["detail"]["alerts"] == before["detail"]["alerts"]
    assert closed["resolved_at"] == before["resolved_at"]
    assert timeline(rig, "INC-1")[-1][0] == "close"
    # The second close finds the incident back in memory, closed: refused, as for any other.
    rig.action(**second)
    assert [k for k, _ in timeline(rig, "INC-1")].count("close") == 1

    later(rig, RETENTION * 4)
    assert "INC-1" not in rig.worker.engine.incidents
    notified = [d["call_id"] for k, d in timeline(rig, "INC-1") if k == "notify"]
    act(rig, "INC-1", action="reopen", by="erin", reason="failures are back")
    reopened = row(rig, "INC-1")
    assert reopened["status"] == "triggered" and reopened["closed_at"] is None
    calls = [d["call_id"] for k, d in timeline(rig, "INC-1") if k == "notify"]
    # Escalation starts over with a notification of its own (a new call id: the outbox runs
    # each id once), and the alerts of the incident are known again.
    assert len(calls) == len(notified) + 1 and calls[-1] not in notified
    assert rig.worker.engine.incidents["INC-1"].alerts == {
        a["identity"]: "resolved" for a in before["detail"]["alerts"]
    }
    # The alerts fire again and resolve: the reopened incident resolves as it would have.
    rig.alert("PaymentFailureRateHigh", channel="alipay")
    rig.alert("PaymentFailureRateHigh", status="resolved", channel="alipay")
    assert row(rig, "INC-1")["status"] == "resolved"
    assert engine_state(recovered(rig)) == engine_state(rig.worker.engine)


def test_a_late_connector_result_is_recorded_on_an_incident_that_left_memory(rig: Rig) -> None:
    rig.alert("PaymentFailureRateHigh", channel="alipay")
    rig.alert("PaymentChannelProbeFailed", channel="alipay")
    # The last alert resolves it without running the executor: its impact query stays in flight.
    rig.execute()
    rig.alert("PaymentFailureRateHigh", status="resolved", channel="alipay")
    labels = {"alertname": "PaymentChannelProbeFailed", "channel": "alipay"}
    probe = Event(
        name="PaymentChannelProbeFailed",
        at=rig.wall.now(),
        kind="alert",
        status="resolved",
        labels=labels,
        fingerprint=fingerprint(labels),
        source="alertmanager",
        starts_at=T0,
    )
    rig._journal("event", probe.to_dict())  # journaled and applied; the executor not run
    assert row(rig, "INC-1")["status"] == "resolved"
    rig.wall.set(rig.wall.now() + RETENTION * 2)
    rig._journal(
        "event", {"kind": "alert", "name": "SomethingElse", "at": rig.wall.now().isoformat()}
    )
    assert "INC-1" not in rig.worker.engine.incidents
    assert any("impact" in c for c in rig.worker.engine._calls)

    rig.reply("impact", "failed_payments", ({"value": 42}, None, 0.2))
    rig.execute()  # the executor finally reports
    kinds = timeline(rig, "INC-1")
    done = [d for k, d in kinds if k == "call_done" and d["role"] == "impact"]
    assert len(done) == 1 and done[0]["outcome"] == "ok"
    impacts = [d for k, d in kinds if k == "impact"]
    assert impacts and impacts[-1]["value"] == 42
    assert row(rig, "INC-1")["status"] == "resolved"
    assert rig.worker.engine._calls == {}
    assert rig.worker.last_error is None
    assert engine_state(recovered(rig)) == engine_state(rig.worker.engine)


def test_without_the_stored_row_an_unknown_incident_is_still_refused(rig: Rig) -> None:
    outage(rig)
    later(rig, RETENTION * 2)
    before = timeline(rig, "INC-1")
    rig.action(action="close", incident="INC-1", by="carol")  # an entry journaled before
    assert timeline(rig, "INC-1") == before
    assert row(rig, "INC-1")["status"] == "resolved"


def test_a_library_journaled_without_retention_keeps_every_incident(rig: Rig) -> None:
    """Journals written before retention existed replay as they ran: nothing leaves memory."""
    files = [(str(p), p.read_text()) for p in rig.runbooks]
    old = library_payload(files)
    del old["retention_s"]
    rig._journal("runbooks", old)
    outage(rig)
    later(rig, RETENTION * 10)
    assert "INC-1" in rig.worker.engine.incidents
    # A later library with a retention starts counting it for incidents resolved before.
    rig._journal("runbooks", library_payload(files, retention=RETENTION.total_seconds()))
    later(rig, RETENTION * 11 + timedelta(seconds=1))
    assert "INC-1" not in rig.worker.engine.incidents
    assert engine_state(recovered(rig)) == engine_state(rig.worker.engine)
