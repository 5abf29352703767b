"""Every ingested event gets one outcome: what it opened, joined, waits in, or that nothing
took it; an event no runbook took goes to the fallback runbook, and only such an event does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from runbookd.engine.compiler import compile_runbook
from runbookd.engine.events import Event
from runbookd.engine.lang.loader import load_text
from runbookd.engine.simulator import Simulator

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HEAD = """
runbook: 1
title: T
team: t
section: "1.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
"""
RUNBOOKS = {
    "pay": HEAD
    + """
id: pay
detection:
  group_by: [labels.channel]
  triggers:
    - correlate:
        - {field: name, eq: Failures}
        - {field: name, eq: ProbeFailed}
      within: 5m
""",
    "burst": HEAD
    + """
id: burst
detection:
  triggers:
    - match: {field: name, eq: Timeout}
      count: 3
      within: 10m
""",
    "held": HEAD
    + """
id: held
detection:
  group_by: [labels.instance]
  triggers:
    - match: {field: name, eq: InstanceDown}
      for: 4m
""",
    "fallback": HEAD
    + """
id: fallback
detection:
  fallback: true
  group_by: [name]
  triggers:
    - match: {field: kind, eq: alert}
""",
}


def sim(*ids: str) -> Simulator:
    compiled = []
    for rid in ids:
        loaded, problems = load_text(RUNBOOKS[rid], f"{rid}.yaml")
        assert loaded is not None and not problems, problems
        compiled.append(compile_runbook(loaded.runbook))
    return Simulator(compiled, START)


def alert(name: str, at: datetime, **labels: str) -> Event:
    return Event(name=name, at=at, kind="alert", labels={"alertname": name, **labels})


def last(s: Simulator) -> dict[str, Any]:
    return dict(s.outcomes[-1].data)


def test_a_correlation_half_waits_until_its_window_ends_then_the_partner_opens() -> None:
    s = sim("pay", "burst")
    s.ingest([alert("Failures", START, channel="alipay")])
    first = last(s)
    assert first["outcome"] == "pending" and first["runbook"] == "pay"
    assert first["results"][0]["until"] == (START + timedelta(minutes=5)).isoformat()
    s.at(timedelta(minutes=1))
    s.ingest([alert("ProbeFailed", s.now, channel="alipay")])
    second = last(s)
    assert second["outcome"] == "opened"
    assert second["incident"] == s.incident_for("pay").id
    # The end of one of its alerts joins the incident it belongs to.
    s.ingest(
        [
            Event(
                "Failures",
                s.now,
                "alert",
                "resolved",
                {"alertname": "Failures", "channel": "alipay"},
            )
        ]
    )
    assert last(s)["outcome"] == "joined" and last(s)["incident"] == second["incident"]
    # The outcomes stay off every incident's timeline.
    assert all(c.kind != "alert_outcome" for c in s.timeline)


def test_counted_held_and_unmatched() -> None:
    s = sim("burst", "held")
    s.ingest([alert("Timeout", START)])
    assert last(s)["outcome"] == "counted"
    assert last(s)["results"][0]["count"] == 1 and last(s)["results"][0]["of"] == 3
    s.ingest([alert("InstanceDown", START, instance="db-1")])
    held = last(s)
    assert held["outcome"] == "held"
    assert held["results"][0]["until"] == (START + timedelta(minutes=4)).isoformat()
    s.ingest([alert("DiskWillFillSoon", START)])
    assert last(s)["outcome"] == "unmatched"
    assert last(s)["incident"] is None and last(s)["results"] == []
    assert len(s.outcomes) == 3  # one per event


def test_the_fallback_takes_only_what_no_other_runbook_took() -> None:
    s = sim("pay", "fallback")
    s.ingest([alert("Failures", START, channel="alipay")])
    assert last(s)["outcome"] == "pending"  # handled by pay: the fallback never sees it
    s.ingest([alert("NginxHighHttp5xxErrorRate", START, instance="web-1")])
    taken = last(s)
    assert taken["outcome"] == "unmatched"  # what it was; the fallback is the safety net
    assert taken["runbook"] == "fallback"
    assert taken["results"][0]["fallback"] is True
    # One fallback incident per alertname: another host's copy joins it.
    s.ingest([alert("NginxHighHttp5xxErrorRate", START, instance="web-2")])
    assert last(s)["incident"] == taken["incident"]
    assert last(s)["results"][0]["outcome"] == "joined"
    s.ingest([alert("HostOutOfMemory", START, instance="db-1")])
    assert last(s)["incident"] != taken["incident"]
    assert [i.runbook for i in s.incidents()] == ["fallback", "fallback"]
