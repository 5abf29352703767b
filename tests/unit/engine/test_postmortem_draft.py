"""Status updates (`status_every`) re-notify the current level: they neither delay its
acknowledgement deadline nor count as escalation levels reached in the post-mortem draft."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runbookd.engine.compiler import compile_runbook
from runbookd.engine.events import Event
from runbookd.engine.incident import Incident
from runbookd.engine.lang.loader import load_text
from runbookd.engine.postmortem import draft_markdown, levels_reached
from runbookd.engine.simulator import Simulator

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
RUNBOOK = """
runbook: 1
id: disk
title: Disk full
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  triggers:
    - match: {field: name, eq: DiskFull}
escalation:
  status_every: 10m
  levels:
    - id: oncall
      connector: log
      params: {message: "{{ incident.id }}"}
      ack_within: 15m
    - id: lead
      connector: log
      params: {message: "{{ incident.id }} still open"}
"""


def run(minutes: int) -> Incident:
    loaded, problems = load_text(RUNBOOK, "disk.yaml")
    assert loaded is not None and not problems, problems
    sim = Simulator([compile_runbook(loaded.runbook)], START)
    sim.ingest([Event(name="DiskFull", at=START, kind="alert")])
    sim.at(timedelta(minutes=minutes))
    return sim.incident_for("disk")


def test_a_status_update_does_not_delay_the_next_level() -> None:
    # The update at +10m used to re-arm oncall's 15 m deadline (to +25m, then +35m...), so with
    # updates more frequent than the deadline the lead was never paged.
    incident = run(16)
    assert [(c.data["level"], c.at - START) for c in incident.timeline if c.kind == "escalate"] == [
        ("lead", timedelta(minutes=15))
    ]


def test_status_updates_are_not_levels_reached() -> None:
    incident = run(25)
    # Status updates at +10m and +20m, the second level at +15m: four notifications...
    assert len(incident.levels_reached) == 4
    # ...of which two are levels reached.
    assert levels_reached(incident) == [
        ("oncall", START),
        ("lead", START + timedelta(minutes=15)),
    ]
    line = next(x for x in draft_markdown(incident).splitlines() if "levels reached" in x)
    assert line.count(" at ") == 2
