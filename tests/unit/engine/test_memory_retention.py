"""Memory is bounded by open incidents plus the retention window, not by history (issue 9).

The structures are counted, not the process's RSS: a resolved incident leaves the engine's
memory ``retention`` after it resolved, and counting windows and safety-rail history of keys
that went quiet are swept on the engine's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbookd.engine.clock import VirtualClock
from runbookd.engine.commands import Command
from runbookd.engine.compiler import compile_runbook
from runbookd.engine.errors import EngineError
from runbookd.engine.events import Event
from runbookd.engine.lang.loader import load_text
from runbookd.engine.runtime import Engine

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
RETENTION = timedelta(minutes=30)

RUNBOOK = """
runbook: 1
id: disk-full
title: Disk full
team: ops
section: "9.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.instance]
  triggers:
    - match: {field: name, eq: DiskFull}
    - match: {field: name, eq: InodesLow}
      count: 3
      within: 5m
escalation:
  levels:
    - {id: oncall, who: ops, connector: http, params: {method: POST, url: "http://127.0.0.1:8081/page"}}
handling:
  limits: {max_concurrent: 50, rate: {max: 3, per: 10m}}
  steps:
    - id: clean
      connector: http
      params: {method: POST, url: "http://127.0.0.1:8081/clean"}
      limits: {cooldown: 15m}
resolution:
  on_alerts_resolved: true
"""


def engine(retention: timedelta | None = RETENTION) -> tuple[Engine, VirtualClock]:
    loaded, problems = load_text(RUNBOOK, "disk.yaml")
    assert loaded is not None and not problems, problems
    clock = VirtualClock(START)
    return Engine([compile_runbook(loaded.runbook)], clock, retention=retention), clock


def alert(name: str, instance: str, at: datetime, status: str = "firing") -> Event:
    return Event(
        name=name,
        at=at,
        kind="alert",
        status="resolved" if status == "resolved" else "firing",
        labels={"instance": instance},
        fingerprint=f"{name}-{instance}",
    )


def finish_calls(eng: Engine, commands: list[Command]) -> list[Command]:
    """Every connector call succeeds at once; returns every command seen."""
    seen = list(commands)
    pending = [c for c in commands if c.kind in ("notify", "run_step")]
    while pending:
        out = eng.call_finished(pending.pop().data["call_id"], result={}, seconds=0.1)
        seen += out
        pending += [c for c in out if c.kind in ("notify", "run_step")]
    return seen


def one_incident(eng: Engine, clock: VirtualClock, n: int) -> None:
    """Open and resolve the incident of instance ``n`` one minute apart; also a count window."""
    host = f"host-{n}"
    finish_calls(eng, eng.ingest(alert("DiskFull", host, clock.now())))
    finish_calls(eng, eng.ingest(alert("InodesLow", f"idle-{n}", clock.now())))
    clock.set(clock.now() + timedelta(minutes=1))
    finish_calls(eng, eng.ingest(alert("DiskFull", host, clock.now(), "resolved")))
    clock.set(clock.now() + timedelta(minutes=1))
    finish_calls(eng, eng.advance())


def test_memory_does_not_grow_with_resolved_incidents() -> None:
    eng, clock = engine()
    sizes = []
    for n in range(200):  # 400 minutes of history, 13 retention windows
        one_incident(eng, clock, n)
        if n in (100, 199):
            sizes.append(
                (
                    len(eng.incidents),
                    len(eng._windows),
                    len(eng.rails._runs),
                    sum(len(t) for t in eng.rails._targets.values()),
                    len(eng._calls),
                    len(eng._retiring),
                )
            )
    # Incidents resolve every 2 minutes: at most 30 min / 2 min of them are still kept.
    assert sizes[0] == sizes[1]
    kept, windows, runs, targets, calls, retiring = sizes[1]
    assert kept <= 16
    assert not eng._open
    assert windows <= 5  # idle count windows (one event each, 5 min long) are swept
    assert runs <= 16 and targets <= 16  # rail history no longer than the longest limit (15m)
    assert calls == 0
    assert retiring == kept


def test_a_resolved_incident_stays_for_the_retention_then_leaves() -> None:
    eng, clock = engine()
    one_incident(eng, clock, 1)
    assert "INC-1" in eng.incidents
    clock.set(START + timedelta(minutes=1) + RETENTION - timedelta(seconds=1))
    eng.advance()
    assert "INC-1" in eng.incidents
    clock.set(START + timedelta(minutes=1) + RETENTION)
    eng.advance()
    assert "INC-1" not in eng.incidents
    with pytest.raises(EngineError, match="no incident"):
        eng.close("INC-1", "alice")  # without the stored row the engine cannot know it


def test_an_open_incident_is_never_dropped() -> None:
    eng, clock = engine()
    finish_calls(eng, eng.ingest(alert("DiskFull", "db-1", clock.now())))
    clock.set(clock.now() + RETENTION * 10)
    eng.advance()
    assert eng.incidents["INC-1"].is_open


def test_a_reopened_incident_is_not_dropped_by_its_earlier_resolution() -> None:
    eng, clock = engine()
    one_incident(eng, clock, 1)
    clock.set(clock.now() + timedelta(minutes=5))
    finish_calls(eng, eng.reopen("INC-1", "alice"))
    clock.set(clock.now() + RETENTION * 2)
    eng.advance()
    assert eng.incidents["INC-1"].is_open


def test_without_retention_resolved_incidents_stay() -> None:
    eng, clock = engine(retention=None)
    for n in range(40):
        one_incident(eng, clock, n)
    assert len(eng.incidents) == 40


def test_pruned_rail_history_still_enforces_the_cooldown() -> None:
    """Sweeping keeps what the limits look back on: a run within the cooldown still blocks."""
    eng, clock = engine()
    host = "db-1"
    out = finish_calls(eng, eng.ingest(alert("DiskFull", host, clock.now())))
    assert [c for c in out if c.kind == "run_step"]
    clock.set(clock.now() + timedelta(minutes=1))
    finish_calls(eng, eng.ingest(alert("DiskFull", host, clock.now(), "resolved")))
    for _ in range(5):  # sweeps run every minute of engine time
        clock.set(clock.now() + timedelta(minutes=1))
        finish_calls(eng, eng.advance())
        eng.ingest(alert("Unrelated", "x", clock.now()))
    out = finish_calls(eng, eng.ingest(alert("DiskFull", host, clock.now())))
    assert not [c for c in out if c.kind == "run_step"]
    assert any("cooldown 15m" in str(c.data) for c in out), [c.data for c in out]
