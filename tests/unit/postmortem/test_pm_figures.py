"""Post-mortem figures computed from timelines the service stored: the handled 3.3 outage and
its variants (acknowledged, left open, impact query failing), asserting numbers, not wording."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from runbookd.engine.steps import _with_jitter
from runbookd.postmortem.load import load_summary
from runbookd.postmortem.model import Summary
from tests.unit.postmortem.rig import T0, Rig, run_payment_outage

OPENED = T0 + timedelta(seconds=90)  # the probe alert completes the correlation


def summary(rig: Rig, minutes: float = 60) -> Summary:
    return load_summary(rig.db, "INC-1", now=T0 + timedelta(minutes=minutes))


def test_handled_outage_figures(db_url: str) -> None:
    rig = Rig(db_url)
    run_payment_outage(rig)
    s = summary(rig)

    assert s.final and s.status == "resolved"
    assert (s.runbook, s.runbook_version, s.section) == ("payment-channel-abnormal", 1, "3.3")
    assert (s.nature, s.scope, s.complexity, s.severity) == (
        "external",
        "global",
        "complex",
        "critical",
    )
    t = s.timings
    assert t.detected == OPENED
    assert t.acknowledged is None and t.time_to_acknowledge is None
    # Mitigated when the verified switch finished handling (7m); resolved when the last alert
    # resolved (9m).
    assert t.time_to_mitigate == 5.5 * 60
    assert t.time_to_resolve == 7.5 * 60

    # Nobody acknowledged: level 1's 5 m deadline was missed and level 2 was paged at +5m;
    # the incident resolved before level 2's 10 m deadline.
    assert [(lvl.level, lvl.at - OPENED, lvl.outcome) for lvl in s.escalation] == [
        ("payments-oncall", timedelta(0), "missed"),
        ("payments-lead", timedelta(minutes=5), "resolved_first"),
    ]
    assert s.escalation[0].deadline == OPENED + timedelta(minutes=5)
    assert s.escalation[1].deadline == OPENED + timedelta(minutes=15)

    assert [(a.name, a.count, a.alerts, a.resolved) for a in s.alerts] == [
        ("PaymentChannelProbeFailed", 2, 1, 1),
        ("PaymentFailureRateHigh", 2, 1, 1),
    ]
    failures = s.alerts[1]
    assert (failures.first, failures.last) == (OPENED, T0 + timedelta(minutes=7))
    assert [(f.role, f.rule, f.count, f.first, f.events) for f in s.rule_firings] == [
        ("trigger", "failures-and-probe", 1, OPENED, ["PaymentChannelProbeFailed"])
    ]

    steps = {step.id: step for step in s.steps}
    assert [step.id for step in s.steps] == ["channel_status", "switch_channel", "tell_users"]
    assert all(step.outcome == "ok" for step in s.steps)
    # channel_status failed once (retryable) and succeeded after the 10 s backoff plus the
    # engine's deterministic jitter.
    backoff = _with_jitter(timedelta(seconds=10), "INC-1:channel_status:1")
    assert steps["channel_status"].attempts == 2
    assert steps["channel_status"].duration == backoff.total_seconds()
    assert steps["channel_status"].call_seconds == 0.25 + 0.75
    # The switch ran when bob approved (3m) and was verified by the resolved alert (7m).
    assert steps["switch_channel"].started == T0 + timedelta(minutes=3)
    assert steps["switch_channel"].duration == 240
    assert [(a.step, a.decision, a.by, a.decided) for a in s.approvals] == [
        ("switch_channel", "approved", "bob", T0 + timedelta(minutes=3))
    ]
    assert s.approvals[0].requested == OPENED + backoff

    assert [(n.level, n.outcome) for n in s.notifications] == [
        ("payments-oncall", "ok"),
        ("payments-lead", "ok"),
    ]
    [impact] = s.impact
    assert (impact.id, impact.value, impact.unit, impact.connector) == (
        "failed_payments",
        42,
        "payments",
        "prometheus",
    )
    # The query as sent: the incident window (7m30s) rendered into it.
    assert impact.query == 'sum(increase(orders_payment_failed_total{channel="alipay"}[7m30s]))'
    assert impact.measured == t.resolved
    assert s.sections == ["summary", "timings", "timeline", "impact", "follow_ups", "lessons"]
    assert len(s.what_happened) == 3


def test_acknowledged_in_time_meets_the_first_deadline(db_url: str) -> None:
    rig = Rig(db_url)
    run_payment_outage(rig, ack=True)
    s = summary(rig)
    assert s.timings.acknowledged_by == "alice"
    assert s.timings.time_to_acknowledge == 30
    # Acknowledged at +30s: level 1 met its deadline and level 2 was never reached.
    assert [(lvl.level, lvl.outcome) for lvl in s.escalation] == [("payments-oncall", "met")]
    assert [n.level for n in s.notifications] == ["payments-oncall"]


def test_open_incident_is_a_draft_with_running_figures(db_url: str) -> None:
    rig = Rig(db_url)
    rig.alert("PaymentFailureRateHigh", channel="wechat")
    rig.alert("PaymentChannelProbeFailed", channel="wechat")
    rig.at(timedelta(minutes=3))
    early = summary(rig, minutes=3)
    assert not early.final and early.status == "triggered"
    assert early.timings.time_to_resolve is None
    assert [(lvl.level, lvl.outcome) for lvl in early.escalation] == [
        ("payments-oncall", "pending")
    ]
    # The approval for the switch is still waiting.
    assert [(a.step, a.decision) for a in early.approvals] == [("switch_channel", "waiting")]

    rig.at(timedelta(minutes=6))
    later = summary(rig, minutes=6)
    assert [(lvl.level, lvl.outcome) for lvl in later.escalation] == [
        ("payments-oncall", "missed"),
        ("payments-lead", "pending"),
    ]


def test_failed_impact_query_is_unknown_not_zero(db_url: str) -> None:
    rig = Rig(db_url)
    rig.reply("impact", "failed_payments", (None, "prometheus: connection refused", 0.1))
    rig.alert("PaymentFailureRateHigh", channel="card")
    rig.alert("PaymentChannelProbeFailed", channel="card")
    rig.action(action="resolve", incident="INC-1", by="carol", reason="false alarm")
    rig.at(timedelta(minutes=1))
    s = summary(rig)
    [impact] = s.impact
    assert impact.value is None
    assert impact.error == "prometheus: connection refused"
    assert s.timings.resolved_by == "carol"
    assert s.timings.time_to_resolve == 0
    # Resolved before anyone had to acknowledge; the waiting approval was dropped with it.
    assert [(lvl.level, lvl.outcome) for lvl in s.escalation] == [
        ("payments-oncall", "resolved_first")
    ]
    assert [(a.step, a.decision) for a in s.approvals] == [("switch_channel", "dropped")]


RAISING = """
runbook: 1
id: disk
title: Disk full
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  triggers:
    - id: full
      match: {field: name, eq: DiskFull}
  raise:
    - when: {field: incident.distinct.region, ge: 2}
      scope: global
      severity: high
      reason: more than one region
"""


def test_rule_firings_are_condensed_per_rule_with_what_raises_changed(
    db_url: str, tmp_path: Path
) -> None:
    runbook = tmp_path / "disk.yaml"
    runbook.write_text(RAISING)
    rig = Rig(db_url, runbooks=[runbook])
    rig.alert("DiskFull", host="a", region="eu")
    rig.at(timedelta(minutes=1))
    rig.alert("DiskFull", host="b", region="us")  # fires the trigger again, and the raise
    rig.at(timedelta(minutes=2))
    rig.alert("DiskFull", host="c", region="eu")
    s = summary(rig)
    firings = {(f.role, f.rule): f for f in s.rule_firings}
    assert set(firings) == {("trigger", "full"), ("raise", "raise-1")}
    trigger = firings[("trigger", "full")]
    assert (trigger.count, trigger.first, trigger.last) == (3, T0, T0 + timedelta(minutes=2))
    assert trigger.events == ["DiskFull"]
    raised = firings[("raise", "raise-1")]
    assert raised.first == T0 + timedelta(minutes=1)
    assert raised.changes == {"severity": "high", "scope": "global"}
    assert (s.severity, s.scope) == ("high", "global")
