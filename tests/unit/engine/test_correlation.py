"""Correlation: both halves join the incident, and each trigger keeps its own window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runbookd.engine.compiler import compile_runbook
from runbookd.engine.events import Event
from runbookd.engine.lang.loader import load_text
from runbookd.engine.simulator import Simulator

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
RUNBOOK = """
runbook: 1
id: pay
title: Payments
team: payments
section: "3.3"
classification: {nature: external, scope: global, complexity: simple}
detection:
  group_by: [labels.channel]
  triggers:
    - id: tight
      correlate:
        - {field: name, eq: Failures}
        - {field: name, eq: ProbeFailed}
      within: 1m
    - id: loose
      correlate:
        - {field: name, eq: Failures}
        - {field: name, eq: Complaints}
      within: 10m
"""


def sim() -> Simulator:
    loaded, problems = load_text(RUNBOOK, "pay.yaml")
    assert loaded is not None and not problems, problems
    return Simulator([compile_runbook(loaded.runbook)], START)


def alert(name: str, at: datetime, status: str = "firing") -> Event:
    return Event(name=name, at=at, kind="alert", status=status, labels={"channel": "alipay"})


def test_both_halves_are_attached_and_both_must_resolve() -> None:
    s = sim()
    s.ingest([alert("Failures", START)])
    s.at(timedelta(seconds=30))
    s.ingest([alert("ProbeFailed", s.now)])
    incident = s.incident_for("pay")
    assert incident.alert_names == {"Failures": 1, "ProbeFailed": 1}
    assert incident.first_event is not None and incident.first_event.name == "ProbeFailed"
    s.ingest([alert("ProbeFailed", s.now, "resolved")])
    assert incident.is_open  # the failures are still firing
    s.ingest([alert("Failures", s.now, "resolved")])
    assert not incident.is_open


def test_a_half_older_than_its_triggers_window_does_not_correlate() -> None:
    s = sim()
    s.ingest([alert("Failures", START)])
    s.at(timedelta(minutes=5))  # inside `loose` (10m), outside `tight` (1m)
    s.ingest([alert("ProbeFailed", s.now)])
    assert s.incidents() == []
    s.at(timedelta(minutes=5, seconds=30))  # the probe is now a fresh half for `tight`
    s.ingest([alert("Failures", s.now)])
    assert [i.trigger for i in s.incidents()] == ["tight"]


def test_a_generic_event_is_routed_by_its_labels_alertname_too() -> None:
    text = RUNBOOK.replace(
        """    - id: tight""",
        """    - id: by-label
      match: {field: labels.alertname, eq: CardDeclines}
    - id: tight""",
    )
    loaded, problems = load_text(text, "pay.yaml")
    assert loaded is not None and not problems, problems
    s = Simulator([compile_runbook(loaded.runbook)], START)
    # A generic event whose name differs from the alertname label it carries.
    s.ingest([Event(name="declines", at=START, labels={"alertname": "CardDeclines"})])
    assert [i.trigger for i in s.incidents()] == ["by-label"]


def test_a_later_trigger_does_not_take_the_first_half_of_a_correlation() -> None:
    text = RUNBOOK.replace(
        """    - id: loose""",
        """    - id: failures-hold
      match: {field: name, eq: Failures}
      for: 15m
    - id: loose""",
    )
    loaded, problems = load_text(text, "pay.yaml")
    assert loaded is not None and not problems, problems
    s = Simulator([compile_runbook(loaded.runbook)], START)
    s.ingest([alert("Failures", START)])
    s.at(timedelta(seconds=40))
    s.ingest([alert("ProbeFailed", s.now)])
    [incident] = s.incidents()
    assert incident.trigger == "tight" and incident.opened_at == START + timedelta(seconds=40)


def test_halves_of_different_keys_in_the_same_shard_never_pair() -> None:
    # c2 and c10 land in the same durable session (shard); only the incident key tells them apart.
    from runbookd.engine.rules import shard

    assert shard("labels.channel=c2") == shard("labels.channel=c10")
    s = sim()
    s.ingest([Event(name="Failures", at=START, kind="alert", labels={"channel": "c2"})])
    s.ingest([Event(name="ProbeFailed", at=START, kind="alert", labels={"channel": "c10"})])
    assert s.incidents() == []
    s.ingest([Event(name="ProbeFailed", at=START, kind="alert", labels={"channel": "c2"})])
    [incident] = s.incidents()
    assert incident.labels["channel"] == "c2"


def test_a_compiled_runbook_loads_again_after_an_unload() -> None:
    loaded, _ = load_text(RUNBOOK, "pay.yaml")
    assert loaded is not None
    compiled = compile_runbook(loaded.runbook)
    first, second = Simulator([compiled], START), Simulator([compiled], START)
    assert first.engine.runbooks.keys() == second.engine.runbooks.keys() == {"pay"}


def test_a_count_trigger_attaches_every_counted_event() -> None:
    text = """
runbook: 1
id: waf
title: Attack
team: sec
section: "11.2"
classification: {nature: security, scope: local, complexity: simple}
detection:
  group_by: [labels.client_ip]
  triggers:
    - {match: {field: name, eq: WafRuleMatched}, count: 3, within: 1m}
"""
    loaded, problems = load_text(text, "waf.yaml")
    assert loaded is not None and not problems, problems
    s = Simulator([compile_runbook(loaded.runbook)], START)
    for second in (0, 10, 20):
        s.at(timedelta(seconds=second))
        s.ingest(
            [
                Event(
                    name="WafRuleMatched",
                    at=s.now,
                    labels={"client_ip": "203.0.113.7", "rule": str(second)},
                )
            ]
        )
    [incident] = s.incidents()
    assert incident.alert_names == {"WafRuleMatched": 3}
    assert incident.label_values["rule"] == {"0", "10", "20"}


def test_a_joined_half_no_longer_holds_an_expiry_timer() -> None:
    # Each half waits on a timer for its trigger's window. Once the partner joins, that timer
    # (and the document it carries) would otherwise stay in memory until the window ran out.
    s = sim()
    s.ingest([alert("Failures", START)])
    waiting = [t.name for t in s.engine.timers.live() if t.name.startswith("corr:")]
    assert [n.rsplit(":", 1)[0][-3:] for n in waiting] == ["/t0", "/t1"]  # tight, loose
    s.at(timedelta(seconds=30))
    s.ingest([alert("ProbeFailed", s.now)])
    assert [i.trigger for i in s.incidents()] == ["tight"]
    # Only the `loose` half still waits (for Complaints).
    assert [t.name for t in s.engine.timers.live() if t.name.startswith("corr:")] == waiting[1:]
