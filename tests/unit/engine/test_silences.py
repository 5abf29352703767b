"""Silences on the engine's virtual clock: a muted alert opens no incident and pages no one,
and an open incident whose firing alerts are all muted stops escalating until the silence ends,
then is paged for what came due meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runbookd.engine.compiler import compile_runbook
from runbookd.engine.errors import EngineError
from runbookd.engine.events import Event
from runbookd.engine.lang.loader import load_text
from runbookd.engine.simulator import Simulator

START = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)

RUNBOOK = """
runbook: 1
id: host-down
title: Host down
team: ops
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.instance]
  triggers:
    - match: {field: name, eq: HostDown}
escalation:
  levels:
    - {id: oncall, who: ops, ack_within: 15m, connector: http, params: {method: POST, url: "http://127.0.0.1:8081/page"}}
    - {id: lead, who: ops-lead, ack_within: 15m, connector: http, params: {method: POST, url: "http://127.0.0.1:8081/lead"}}
  repeat: 2
resolution:
  on_alerts_resolved: true
"""


def sim() -> Simulator:
    loaded, problems = load_text(RUNBOOK, "host.yaml")
    assert loaded is not None and not problems, problems
    return Simulator([compile_runbook(loaded.runbook)], START)


def alert(instance: str, at: datetime, status: str = "firing") -> Event:
    return Event(
        name="HostDown",
        at=at,
        kind="alert",
        status="resolved" if status == "resolved" else "firing",
        labels={"alertname": "HostDown", "instance": instance},
        fingerprint=f"HostDown-{instance}",
    )


def silence(sid: str, start: datetime, end: datetime, *matchers: str) -> dict[str, Any]:
    return {
        "op": "add",
        "id": sid,
        "matchers": list(matchers) or ['alertname="HostDown"'],
        "startsAt": start.isoformat(),
        "endsAt": end.isoformat(),
        "createdBy": "ana",
        "comment": "kernel upgrade",
    }


def pages(s: Simulator) -> list[tuple[datetime, str]]:
    return [(c.at, str(c.data["level"])) for c in s.timeline if c.kind == "notify"]


def test_a_silenced_alert_opens_no_incident_and_says_which_silence() -> None:
    s = sim()
    s.silence(silence("s1", START, START + timedelta(hours=1), 'instance=~"db.*"'))
    s.ingest([alert("db-1", START + timedelta(minutes=5))])
    assert s.incidents() == [] and pages(s) == []
    [outcome] = s.outcomes
    assert outcome.data["outcome"] == "silenced"
    assert outcome.data["silenced_by"]["silence"] == "s1"
    assert outcome.data["silenced_by"]["comment"] == "kernel upgrade"
    # another instance is not matched: it opens and pages as always
    s.ingest([alert("web-1", START + timedelta(minutes=6))])
    assert [i.labels["instance"] for i in s.incidents()] == ["web-1"]
    assert len(pages(s)) == 1


def test_a_pending_silence_mutes_nothing_until_it_starts_and_nothing_after_it_ends() -> None:
    s = sim()
    start, end = START + timedelta(hours=1), START + timedelta(hours=2)
    s.silence(silence("s1", start, end))
    s.ingest([alert("a", START)])
    assert len(s.incidents()) == 1
    s.run_until(end)
    s.ingest([alert("b", end)])  # ends_at is exclusive
    assert s.outcomes[-1].data["outcome"] == "opened"


def test_an_open_incident_whose_alerts_are_all_silenced_pauses_and_is_paged_at_the_end() -> None:
    s = sim()
    s.ingest([alert("db-1", START)])
    [incident] = s.incidents()
    # 02:00-03:00 maintenance, made after the page; the level's deadline (01:15) passes first
    s.run_until(START + timedelta(minutes=5))
    s.silence(silence("s1", START + timedelta(minutes=5), START + timedelta(minutes=65)))
    s.run_until(START + timedelta(minutes=64))
    assert pages(s) == [(START, "oncall")]  # the 01:15 escalation was held
    s.run_until(START + timedelta(minutes=66))
    assert pages(s) == [(START, "oncall"), (START + timedelta(minutes=65), "lead")]
    notes = [c.data for c in incident.timeline if c.kind == "note" and c.data.get("paging")]
    assert [n["paging"] for n in notes] == ["paused", "resumed"]
    assert notes[0]["silence"] == "s1" and "silence s1 (kernel upgrade)" in notes[0]["text"]


def test_expiring_the_silence_resumes_paging_at_once() -> None:
    s = sim()
    s.ingest([alert("db-1", START)])
    s.silence(silence("s1", START, START + timedelta(hours=4)))
    s.run_until(START + timedelta(minutes=30))
    assert pages(s) == [(START, "oncall")]
    s.silence({"op": "expire", "id": "s1", "by": "ana"})
    s.run_until(START + timedelta(minutes=30))
    assert pages(s)[-1] == (START + timedelta(minutes=30), "lead")
    with pytest.raises(EngineError, match="already expired"):
        s.silence({"op": "expire", "id": "s1", "by": "bob"})


def test_one_alert_not_silenced_keeps_the_incident_paging() -> None:
    s = sim()
    runbook = RUNBOOK.replace("group_by: [labels.instance]", "group_by: []")
    loaded, _ = load_text(runbook, "host.yaml")
    assert loaded is not None
    s = Simulator([compile_runbook(loaded.runbook)], START)
    s.ingest([alert("db-1", START), alert("web-1", START)])
    s.silence(silence("s1", START, START + timedelta(hours=4), 'instance="db-1"'))
    s.run_until(START + timedelta(minutes=16))
    assert [level for _, level in pages(s)] == ["oncall", "lead"]
    # once web-1 resolves, every firing alert is silenced: the 01:30 deadline is held
    s.ingest([alert("web-1", START + timedelta(minutes=20), "resolved")])
    s.run_until(START + timedelta(hours=3))
    assert [level for _, level in pages(s)] == ["oncall", "lead"]
    s.run_until(START + timedelta(hours=4))  # the silence ends: the cycle starts over
    assert pages(s)[-1] == (START + timedelta(hours=4), "oncall")
