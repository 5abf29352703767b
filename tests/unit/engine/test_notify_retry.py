"""A page that fails for a reason that may pass is sent again; one refused for good is not.

A dropped connection or a 5xx from the paging service must not leave the on-call person
unpaged until the next level's deadline (minutes later): the engine sends the notification again
after 10 s and 30 s, each time as a new call, and stops as soon as the incident resolves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runbookd.engine.clock import VirtualClock
from runbookd.engine.commands import Command
from runbookd.engine.compiler import compile_runbook
from runbookd.engine.events import Event
from runbookd.engine.lang.loader import load_text
from runbookd.engine.runtime import Engine

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

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
escalation:
  levels:
    - {id: oncall, who: ops, ack_within: 15m, connector: http, params: {method: POST, url: "http://127.0.0.1:8081/page"}}
    - {id: lead, who: ops-lead, connector: http, params: {method: POST, url: "http://127.0.0.1:8081/lead"}}
resolution:
  on_alerts_resolved: true
"""


def opened() -> tuple[Engine, VirtualClock, Command]:
    loaded, problems = load_text(RUNBOOK, "disk.yaml")
    assert loaded is not None and not problems, problems
    clock = VirtualClock(START)
    eng = Engine([compile_runbook(loaded.runbook)], clock)
    out = eng.ingest(alert("firing"))
    [page] = [c for c in out if c.kind == "notify"]
    return eng, clock, page


def alert(status: str) -> Event:
    return Event(
        name="DiskFull",
        at=START,
        kind="alert",
        status="resolved" if status == "resolved" else "firing",
        labels={"instance": "db-1"},
        fingerprint="DiskFull-db-1",
    )


def pages_after(eng: Engine, clock: VirtualClock, seconds: int) -> list[Command]:
    clock.set(clock.now() + timedelta(seconds=seconds))
    return [c for c in eng.advance() if c.kind == "notify"]


def test_a_retryable_failure_is_paged_again_until_it_gets_through() -> None:
    eng, clock, page = opened()
    eng.call_finished(page.data["call_id"], error="ReadError", retryable=True, seconds=1.0)
    assert pages_after(eng, clock, 9) == []
    [second] = pages_after(eng, clock, 1)  # 10 s after the failure
    assert second.data["level"] == "oncall" and second.data["attempt"] == 2
    assert second.data["call_id"] != page.data["call_id"]  # a new call, not a reused id
    assert second.data["params"] == page.data["params"]

    eng.call_finished(second.data["call_id"], error="503 from pager", retryable=True)
    [third] = pages_after(eng, clock, 30)
    assert third.data["attempt"] == 3
    # The third failure is the last: the next level's deadline takes over from here.
    eng.call_finished(third.data["call_id"], error="503 from pager", retryable=True)
    assert pages_after(eng, clock, 120) == []
    [lead] = pages_after(eng, clock, 15 * 60)
    assert lead.data["level"] == "lead"


def test_a_permanent_failure_is_not_retried() -> None:
    eng, clock, page = opened()
    out = eng.call_finished(page.data["call_id"], error="401 bad token", retryable=False)
    assert any(c.kind == "note" and "401 bad token" in c.data["text"] for c in out)
    assert pages_after(eng, clock, 60) == []


def test_no_retry_once_the_incident_resolved() -> None:
    eng, clock, page = opened()
    eng.call_finished(page.data["call_id"], error="ReadError", retryable=True)
    eng.ingest(alert("resolved"))
    assert pages_after(eng, clock, 60) == []
