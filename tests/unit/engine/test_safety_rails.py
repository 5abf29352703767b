"""Safety rails that must hold across an incident's life (regressions found while documenting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbookd.connectors.fake import FakeConnectors, Response
from runbookd.engine.compiler import compile_runbook
from runbookd.engine.errors import EngineError
from runbookd.engine.events import Event
from runbookd.engine.lang.loader import load_text
from runbookd.engine.simulator import Simulator

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

RUNBOOK = """
runbook: 1
id: db-failover
title: Database failover
team: dba
section: "10.3"
classification: {nature: infrastructure, scope: global, complexity: complex}
detection:
  group_by: [labels.instance]
  triggers:
    - match: {field: name, eq: PostgresqlDown}
handling:
  limits: {max_concurrent: 1}
  steps:
    - id: failover
      connector: http
      params: {method: POST, url: "http://127.0.0.1:8081/failover"}
      approval: {required: true, timeout: 30m}
      limits: {cooldown: 1h}
      on_failure: {retries: 2, backoff: 10s, then: escalate}
"""


def simulator(text: str = RUNBOOK, connectors: FakeConnectors | None = None) -> Simulator:
    loaded, problems = load_text(text, "db.yaml")
    assert loaded is not None and not problems, problems
    return Simulator([compile_runbook(loaded.runbook)], START, connectors)


def down(instance: str, at: datetime, status: str = "firing") -> Event:
    return Event(
        name="PostgresqlDown", at=at, kind="alert", status=status, labels={"instance": instance}
    )


def test_an_approval_given_after_the_incident_resolved_runs_nothing() -> None:
    sim = simulator()
    sim.ingest([down("db-1", START)])
    approval = sim.approval_for("failover")
    sim.at(timedelta(minutes=1))
    sim.ingest([down("db-1", sim.now, "resolved")])
    assert not sim.incident_for("db-failover").is_open
    with pytest.raises(EngineError, match="no approval"):
        sim.decide(approval, True, "carol")
    assert sim.connectors.calls_to("http") == []


def test_a_resolved_incident_gives_back_its_concurrency_slot() -> None:
    sim = simulator()
    sim.ingest([down("db-1", START)])
    sim.at(timedelta(minutes=1))
    sim.ingest([down("db-1", sim.now, "resolved")])
    sim.at(timedelta(minutes=2))
    sim.ingest([down("db-2", sim.now)])
    # The second instance's handling starts (it waits for approval) instead of being refused.
    assert sim.approval_for("failover")
    notes = [c.data.get("text", "") for c in sim.timeline if c.kind == "note"]
    assert not any("max_concurrent" in n for n in notes), notes


def test_retries_are_not_blocked_by_the_steps_own_cooldown() -> None:
    fake = FakeConnectors()
    fake.script("http", Response(fail="retryable", message="503"), times=2)
    sim = simulator(connectors=fake)
    sim.ingest([down("db-1", START)])
    sim.decide(sim.approval_for("failover"), True, "carol")
    sim.at(timedelta(minutes=5))
    outcomes = [c.data.get("outcome") for c in sim.timeline if c.kind == "step_outcome"]
    assert [c.outcome for c in fake.calls_to("http")] == ["retryable", "retryable", "ok"]
    assert outcomes == ["ok"]


BLAST = """
runbook: 1
id: restart-pods
title: Pod crash looping
team: sre
section: "9.2"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.pod]
  triggers:
    - match: {field: name, eq: KubePodCrashLooping}
escalation:
  levels:
    - {id: oncall, connector: log, params: {message: "{{ incident.title }}"}, ack_within: 15m}
    - {id: lead, connector: log, params: {message: "{{ incident.title }}"}}
handling:
  steps:
    - id: restart
      connector: http
      target: "{{ incident.labels.pod }}"
      params: {method: DELETE, url: "http://127.0.0.1:8081/pods/{{ incident.labels.pod }}"}
      limits: {max_targets: {max: 2, per: 1h}}
      on_failure: {then: escalate}
"""


def test_the_blast_radius_cap_stops_a_fleet_wide_restart() -> None:
    sim = simulator(BLAST)
    for minute, pod in enumerate(["web-1", "web-2", "web-3"]):
        sim.at(timedelta(minutes=minute))
        sim.ingest(
            [Event(name="KubePodCrashLooping", at=sim.now, kind="alert", labels={"pod": pod})]
        )
    restarted = [c.params["url"] for c in sim.connectors.calls_to("http")]
    assert restarted == ["http://127.0.0.1:8081/pods/web-1", "http://127.0.0.1:8081/pods/web-2"]
    third = sim.incidents()[-1]
    outcome = third.steps["restart"]
    assert outcome.outcome == "failed" and "blast radius" in (outcome.error or "")
    assert any(c.kind == "escalate" and c.incident == third.id for c in sim.timeline)
    # An hour later the window has moved on.
    sim.at(timedelta(hours=1, minutes=3))
    sim.ingest(
        [Event(name="KubePodCrashLooping", at=sim.now, kind="alert", labels={"pod": "web-4"})]
    )
    assert len(sim.connectors.calls_to("http")) == 3
