"""One runbook as people read it: what it detects, who it pages, what it does, how it went.

Shared by ``GET /api/v1/runbooks/{id}`` and the page ``/runbooks/{id}``, so that an alerting
rule's ``runbook_url`` can point at runbookd's live page. The description comes from the model
the engine runs (not the file on disk, which may have changed since the last reload); the
figures come from the store: recent incidents, MTTA/MTTR over the runbook's newest incidents, and
its last drill.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import Connection, select

from runbookd.engine.lang.conditions import Condition, describe
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.lang.model import Call, Limits, Runbook, Step, Trigger
from runbookd.store import tables as t
from runbookd.store.tables import DrillRun

#: Incidents listed on the page, and the newest incidents MTTA/MTTR are averaged over.
RECENT_INCIDENTS = 20
TIMES_OVER = 500


def _d(value: timedelta | None) -> str:
    return "" if value is None else format_duration(value)


def _when(cond: Condition | None) -> str | None:
    return None if cond is None else describe(cond)


def trigger_words(trigger: Trigger) -> str:
    """A trigger as a sentence: ``an event where name == 'X' keeps holding for 4m``."""
    if trigger.correlate is not None:
        first, second = (describe(c) for c in trigger.correlate)
        return (
            f"both ({first}) and ({second}) for the same incident key within {_d(trigger.within)}"
        )
    if trigger.absent is not None:
        return f"no event where {describe(trigger.absent)} arrives within {_d(trigger.within)}"
    assert trigger.match is not None  # the model allows exactly one of the three
    text = f"an event where {describe(trigger.match)}"
    if trigger.count is not None:
        return f"{trigger.count} events where {describe(trigger.match)} within {_d(trigger.within)}"
    if trigger.for_ is not None:
        return f"{text} keeps holding for {_d(trigger.for_)}"
    return text


def _limits(limits: Limits | None) -> list[str]:
    if limits is None:
        return []
    out = []
    if limits.rate is not None:
        out.append(f"at most {limits.rate.max} runs per target per {_d(limits.rate.per)}")
    if limits.cooldown is not None:
        out.append(f"{_d(limits.cooldown)} quiet after a run, per target")
    if limits.max_concurrent is not None:
        out.append(f"at most {limits.max_concurrent} runs at once")
    if limits.max_targets is not None:
        out.append(
            f"at most {limits.max_targets.max} distinct targets per {_d(limits.max_targets.per)}"
        )
    return out


def _call(call: Call | None) -> str | None:
    return None if call is None else call.connector


def _step(step: Step) -> dict[str, Any]:
    approval = step.approval
    verify = step.verify
    return {
        "id": step.id,
        "title": step.title,
        "connector": step.connector,
        "when": _when(step.when),
        "approval": None
        if approval is None
        else {
            "required": approval.required,
            "min_severity": approval.min_severity.value if approval.min_severity else None,
            "timeout": _d(approval.timeout),
            "on_timeout": approval.on_timeout,
        },
        "limits": _limits(step.limits),
        "timeout": _d(step.timeout),
        "verify": None
        if verify is None
        else {
            "within": _d(verify.within),
            "event": _when(verify.event),
            "check": _call(verify.check),
            "expect": _when(verify.expect),
        },
        "rollback": _call(step.rollback),
        "on_failure": {
            "retries": step.on_failure.retries,
            "backoff": _d(step.on_failure.backoff),
            "then": step.on_failure.then,
        },
    }


def describe_runbook(rb: Runbook, file: str, library: Sequence[Runbook] = ()) -> dict[str, Any]:
    """Everything the page shows that the runbook itself says; ``library`` (the running one)
    tells which runbooks this one inhibits."""
    levels = []
    deadline = 0.0
    esc = rb.escalation
    for level in esc.levels if esc else []:
        levels.append(
            {
                "id": level.id,
                "who": level.who,
                "connector": level.connector,
                "ack_within": _d(level.ack_within) if level.ack_within else None,
                # When this level is told if nobody acknowledged: the sum of the earlier ones.
                "told_after": _d(timedelta(seconds=deadline)) if deadline else "at once",
            }
        )
        deadline += level.ack_within.total_seconds() if level.ack_within else 0.0
    document = rb.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    return {
        "id": rb.id,
        "title": rb.title,
        "version": rb.version,
        "team": rb.team,
        "section": rb.section,
        "description": rb.description,
        "severity": rb.classification.effective_severity.value,
        "classification": {
            "nature": rb.classification.nature.value,
            "scope": rb.classification.scope.value,
            "complexity": rb.classification.complexity.value,
        },
        "file": file,
        "detection": {
            "group_by": list(rb.detection.group_by),
            "inhibited_by": [
                {"runbook": rule.runbook, "equal": list(rule.equal)}
                for rule in rb.detection.inhibited_by
            ],
            "inhibits": [
                other.id
                for other in library
                if any(rule.runbook == rb.id for rule in other.detection.inhibited_by)
            ],
            "triggers": [
                {"id": rb.trigger_id(i), "kind": tr.kind, "words": trigger_words(tr)}
                for i, tr in enumerate(rb.detection.triggers)
            ],
        },
        "escalation": {
            "levels": levels,
            "repeat": esc.repeat if esc else 0,
            "status_every": _d(esc.status_every) if esc and esc.status_every else None,
        },
        "handling": {
            "dry_run": rb.handling.dry_run,
            "limits": _limits(rb.handling.limits),
            "steps": [_step(s) for s in rb.handling.steps],
        },
        "yaml": yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100),
    }


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def runbook_figures(conn: Connection, runbook_id: str) -> dict[str, Any]:
    """Recent incidents, MTTA/MTTR over the newest ``TIMES_OVER`` incidents, the last drill."""
    c = t.incident.c
    rows = conn.execute(
        select(c.id, c.status, c.severity, c.opened_at, c.acknowledged_at, c.resolved_at)
        .where(c.runbook == runbook_id)
        .order_by(c.opened_at.desc(), c.id.desc())
        .limit(TIMES_OVER)
    ).all()
    tta = [
        (_aware(r.acknowledged_at) - _aware(r.opened_at)).total_seconds()  # type: ignore[operator]  # both set: filtered below
        for r in rows
        if r.acknowledged_at is not None
    ]
    ttr = [
        (_aware(r.resolved_at) - _aware(r.opened_at)).total_seconds()  # type: ignore[operator]  # both set: filtered below
        for r in rows
        if r.resolved_at is not None
    ]
    d = DrillRun.__table__.c  # type: ignore[attr-defined]
    drill = conn.execute(
        select(d.started_at, d.passed, d.score)
        .where(d.runbook_id == runbook_id)
        .order_by(d.started_at.desc())
        .limit(1)
    ).first()
    return {
        "incidents": [
            {
                "id": r.id,
                "status": r.status,
                "severity": r.severity,
                "opened_at": _iso(r.opened_at),
                "resolved_at": _iso(r.resolved_at),
            }
            for r in rows[:RECENT_INCIDENTS]
        ],
        "incidents_counted": len(rows),
        "mtta_s": sum(tta) / len(tta) if tta else None,
        "mttr_s": sum(ttr) / len(ttr) if ttr else None,
        "last_drill": None
        if drill is None
        else {
            "started_at": _iso(drill.started_at),
            "passed": bool(drill.passed),
            "score": float(drill.score),
        },
    }


def _iso(moment: datetime | None) -> str | None:
    aware = _aware(moment)
    return None if aware is None else aware.isoformat()
