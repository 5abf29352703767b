"""Synthetic incident history written the way the engine writes it: for the pages' benchmark,
the browser tests' seeded database, and trying the pages without waiting for real incidents.

Deterministic for a seed. Rows go through the same tables and column shapes as
``runbookd.service.worker`` (incident rows with ``detail``, timeline rows with the commands' data), so
the pages read them exactly as they read real ones. It never touches the journal: these
incidents exist for reading only, and the engine will not know them (actions on them get 409).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from runbookd.store import tables as t
from runbookd.store.codec import dumps

#: (runbook, section, title, nature, scope, complexity, team, levels, steps)
RUNBOOKS = (
    ("payment-channel-abnormal", "3.3", "Payment channel abnormal", "external", "global", "complex", "payments", 3, ("channel_status", "switch_channel")),
    ("database-abnormal", "10.3", "Database abnormal", "infrastructure", "local", "complex", "dba", 2, ("replica_status", "failover")),
    ("system-attacked", "11.2", "System under attack", "security", "global", "simple", "security", 2, ("block_source",)),
    ("order-backlog", "2.1", "Order processing backlog", "business", "local", "simple", "orders", 2, ("scale_workers",)),
    ("stock-mismatch", "4.2", "Stock count mismatch", "business", "local", "complex", "inventory", 1, ()),
    ("refund-stuck", "5.1", "Refunds stuck", "business", "local", "simple", "payments", 2, ("retry_refunds",)),
)  # fmt: skip
SEVERITY = {
    ("local", "simple"): "low",
    ("local", "complex"): "medium",
    ("global", "simple"): "high",
    ("global", "complex"): "critical",
}
CHANNELS = ("alipay", "wechat", "card", "backup", "paypal", "unionpay")


@dataclass
class Seeded:
    incidents: int
    timeline_rows: int
    follow_ups: int


def seed(
    db: Engine,
    count: int,
    *,
    end: datetime,
    days: int = 90,
    seed_value: int = 7,
    open_share: float = 0.05,
    prefix: str = "SIM",
    batch: int = 500,
) -> Seeded:
    """Write ``count`` incidents opened over ``days`` days before ``end``, with timelines."""
    rng = random.Random(seed_value)
    incidents: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    follow: list[dict[str, Any]] = []
    totals = Seeded(0, 0, 0)
    with db.connect() as conn:
        base_seq = int(
            conn.execute(select(t.timeline.c.id).order_by(t.timeline.c.id.desc()).limit(1)).scalar()
            or 0
        )
    seq = base_seq + 1_000_000  # journal_seq values no real journal row uses

    def flush() -> None:
        with db.begin() as conn:
            if incidents:
                conn.execute(insert(t.incident), incidents)
            if timeline:
                conn.execute(insert(t.timeline), timeline)
            if follow:
                conn.execute(insert(t.follow_up), follow)
        totals.incidents += len(incidents)
        totals.timeline_rows += len(timeline)
        totals.follow_ups += len(follow)
        incidents.clear()
        timeline.clear()
        follow.clear()

    for i in range(count):
        seq += 1
        inc, rows, items = _incident(rng, f"{prefix}-{i + 1}", end, days, open_share, seq)
        incidents.append(inc)
        timeline.extend(rows)
        follow.extend(items)
        if len(incidents) >= batch:
            flush()
    flush()
    return totals


def _incident(
    rng: random.Random, incident_id: str, end: datetime, days: int, open_share: float, seq: int
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    rb, section, title, nature, scope, complexity, team, levels, steps = rng.choice(RUNBOOKS)
    severity = SEVERITY[(scope, complexity)]
    if nature == "security":
        severity = {"low": "medium", "medium": "high"}.get(severity, "critical")
    channel = rng.choice(CHANNELS)
    key = f"labels.channel={channel}"
    labels = {"alertname": f"{rb.title().replace('-', '')}Alert", "channel": channel}
    opened = end - timedelta(seconds=rng.uniform(0, days * 86400))
    is_open = rng.random() < open_share
    rows: list[dict[str, Any]] = []
    at = opened

    def row(
        kind: str, moment: datetime, summary: str, incident: str | None = incident_id, **data: Any
    ) -> None:
        rows.append(
            {
                "incident_id": incident,
                "at": moment,
                "kind": kind,
                "summary": summary,
                "data": dumps(data),
                "journal_seq": seq,
            }
        )

    row(
        "rule_fired",
        at,
        f"trigger t1 on {labels['alertname']!r}",
        None,
        role="trigger",
        rule="t1",
        event=labels["alertname"],
        key=key,
        status="firing",
    )
    row(
        "open_incident",
        at,
        f"{title!r} severity={severity} key={key!r}",
        title=title,
        severity=severity,
        key=key,
        labels=labels,
    )
    n_alerts = rng.randint(1, 6)
    for k in range(n_alerts):
        row(
            "attach",
            at + timedelta(seconds=k * 20),
            f"{labels['alertname']!r} (firing)",
            event=labels["alertname"],
            status="firing",
            labels=labels,
        )
    row(
        "notify",
        at,
        f"level={team}-oncall via pagerduty (incident opened)",
        call_id=f"{incident_id}:notify:0",
        connector="pagerduty",
        level=f"{team}-oncall",
        role="notify",
    )
    row(
        "call_done",
        at + timedelta(seconds=1),
        "notify via pagerduty: ok",
        call_id=f"{incident_id}:notify:0",
        outcome="ok",
        seconds=0.4,
    )
    level = 0
    if levels > 1 and rng.random() < 0.2:
        level = 1
        row(
            "escalate",
            at + timedelta(minutes=5),
            "to level=1 (not acknowledged within 5m)",
            level=1,
            reason="not acknowledged within 5m",
        )
    acked = (
        None
        if (is_open and rng.random() < 0.5) or rng.random() < 0.1
        else at + timedelta(seconds=rng.uniform(30, 1200))
    )
    if acked is not None:
        row("acknowledge", acked, "by oncall", by="oncall")
    mitigated = None
    if steps:
        t0 = at + timedelta(seconds=2)
        ok = rng.random() < 0.8
        for n, step in enumerate(steps):
            call = f"{incident_id}:{step}:1"
            start = t0 + timedelta(seconds=n * 30)
            last = n == len(steps) - 1
            outcome = "ok" if ok or not last else "failed"
            row(
                "run_step",
                start,
                f"step {step} via http attempt 1",
                call_id=call,
                connector="http",
                role="step",
                step=step,
                attempt=1,
            )
            row(
                "call_done",
                start + timedelta(seconds=3),
                f"step {step} via http attempt 1: {outcome}",
                call_id=call,
                outcome=outcome,
                seconds=3.0,
            )
            row(
                "step_outcome",
                start + timedelta(seconds=3),
                f"{step} -> {outcome}",
                step=step,
                outcome=outcome,
                attempts=1,
            )
        if ok:
            mitigated = t0 + timedelta(seconds=len(steps) * 30)
    resolved = None
    if not is_open:
        resolved = max(filter(None, (acked, mitigated, at))) + timedelta(
            seconds=rng.uniform(60, 7200)
        )
        row("resolve", resolved, "alerts resolved", reason="alerts resolved")
    status = (
        "resolved"
        if resolved
        else "mitigated"
        if mitigated
        else "acknowledged"
        if acked
        else "triggered"
    )
    incident = {
        "id": incident_id, "runbook": rb, "runbook_version": 1, "section": section, "title": title,
        "severity": severity, "status": status, "key": key, "labels": labels, "opened_at": opened,
        "acknowledged_at": acked, "acknowledged_by": "oncall" if acked else None,
        "mitigated_at": mitigated, "resolved_at": resolved,
        "resolved_by": None, "closed_at": None, "alerts": n_alerts,
        "detail": {
            "nature": nature, "scope": scope, "complexity": complexity, "team": team, "trigger": "t1",
            "level": level, "handling": "done" if mitigated else ("stopped" if steps and resolved else "running" if steps else "done"),
            "alerts": [], "alert_names": {labels["alertname"]: n_alerts},
        },
        "updated_at": resolved or opened,
    }  # fmt: skip
    items = []
    if resolved is not None and rng.random() < 0.1:
        items.append(
            {
                "incident_id": incident_id,
                "title": f"Review the {rb} alert thresholds",
                "owner": team,
                "due_date": (resolved + timedelta(days=14)).date(),
                "status": rng.choice(("open", "in_progress", "done")),
                "created_at": resolved,
                "created_by": "oncall",
                "updated_at": resolved,
                "updated_by": "oncall",
            }
        )
    return incident, rows, items
