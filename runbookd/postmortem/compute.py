"""Compute a ``Summary`` from an incident's stored records: a pure function, easy to test.

The inputs are what the service stores: the ``incident`` row, its ``timeline`` rows in order
(the engine's commands, see ``engine.commands``), follow-ups and lessons. Nothing reads wording:
each figure comes from a command's kind and data fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from runbookd.engine.lang.model import DEFAULT_SECTIONS, Runbook
from runbookd.postmortem.actors import name_actors
from runbookd.postmortem.model import (
    AlertCount,
    Approval,
    FollowUp,
    ImpactFigure,
    Lessons,
    LevelReached,
    Note,
    Notification,
    RuleFiring,
    StepRun,
    Summary,
    Timings,
)
from runbookd.postmortem.muted import paging_suppressed
from runbookd.postmortem.narrative import what_happened

#: Incident statuses after which the summary is final rather than a draft.
FINAL_STATUSES = frozenset({"resolved", "closed"})


@dataclass(frozen=True)
class Entry:
    """One timeline row: when, which command kind, and its data."""

    at: datetime
    kind: str
    data: Mapping[str, Any]


def aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _maybe(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


def _since(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def compute(
    incident: Mapping[str, Any],
    timeline: Sequence[Entry],
    *,
    runbook: Runbook | None = None,
    follow_ups: Iterable[Mapping[str, Any]] = (),
    lessons: Mapping[str, Any] | None = None,
    now: datetime,
    warnings: Sequence[str] = (),
) -> Summary:
    """The summary of one incident as of ``now`` (``now`` matters only while it is open)."""
    detail: Mapping[str, Any] = incident.get("detail") or {}
    status = str(incident["status"])
    timings = _timings(incident)
    end = timings.resolved or now
    summary = Summary(
        incident=str(incident["id"]),
        final=status in FINAL_STATUSES,
        status=status,
        title=str(incident["title"]),
        runbook=str(incident["runbook"]),
        runbook_version=int(incident["runbook_version"]),
        section=str(incident["section"]),
        team=detail.get("team"),
        nature=detail.get("nature"),
        scope=detail.get("scope"),
        complexity=detail.get("complexity"),
        severity=str(incident["severity"]),
        key=str(incident["key"]),
        labels={str(k): str(v) for k, v in (incident.get("labels") or {}).items()},
        what_happened=[],
        timings=timings,
        escalation=_escalation(timeline, timings, end, now),
        alerts=_alerts(timeline),
        rule_firings=_firings(timeline),
        steps=_steps(timeline),
        approvals=_approvals(timeline),
        notifications=_notifications(timeline),
        notes=[
            Note(at=aware(e.at), by=str(e.data["by"]), text=str(e.data.get("text", "")))
            for e in timeline
            if e.kind == "note" and e.data.get("by")
        ],
        impact=_impact(timeline),
        follow_ups=[_follow_up(row) for row in follow_ups],
        lessons=_lessons(lessons),
        sections=list(runbook.postmortem.sections if runbook else DEFAULT_SECTIONS),
        template=runbook.postmortem.template if runbook else None,
        generated=now,
        warnings=list(warnings),
    )
    name_actors(summary, timeline)
    summary.what_happened = what_happened(summary) + paging_suppressed(timeline, end)
    return summary


def _timings(incident: Mapping[str, Any]) -> Timings:
    detected = aware(incident["opened_at"])
    acked = _maybe(incident.get("acknowledged_at"))
    mitigated = _maybe(incident.get("mitigated_at"))
    resolved = _maybe(incident.get("resolved_at"))
    return Timings(
        detected=detected,
        acknowledged=acked,
        acknowledged_by=incident.get("acknowledged_by"),
        mitigated=mitigated,
        resolved=resolved,
        resolved_by=incident.get("resolved_by"),
        time_to_acknowledge=_since(detected, acked),
        time_to_mitigate=_since(detected, mitigated),
        time_to_resolve=_since(detected, resolved),
    )


def _escalation(
    timeline: Sequence[Entry], timings: Timings, end: datetime, now: datetime
) -> list[LevelReached]:
    """Levels notified (status updates are not levels) and how each one's ack deadline went."""
    levels: list[LevelReached] = []
    last: LevelReached | None = None
    for e in timeline:
        d = e.data
        if e.kind == "notify" and d.get("role", "notify") == "notify":
            if d.get("reason") == "status update":
                last = None
                continue
            last = LevelReached(
                level=str(d.get("level")),
                who=d.get("who"),
                at=aware(e.at),
                reason=str(d.get("reason") or ""),
                outcome="none",
            )
            levels.append(last)
        elif (
            e.kind == "start_timer"
            and last is not None
            and str(d.get("name", "")).endswith(":esc")
            and last.deadline is None
            and aware(e.at) == last.at  # armed right after the level was notified
        ):
            last.deadline = datetime.fromisoformat(str(d["due"]))
    acked = timings.acknowledged
    for level in levels:
        if level.deadline is None:
            continue
        if acked is not None and level.at <= acked <= level.deadline:
            level.outcome = "met"
        elif acked is not None and acked < level.at:
            level.outcome = "none"  # armed before an ack that came at the same batch
        elif timings.resolved is not None and timings.resolved <= level.deadline and acked is None:
            level.outcome = "resolved_first"
        elif min(end, now) >= level.deadline or (acked is not None and acked > level.deadline):
            level.outcome = "missed"
        else:
            level.outcome = "pending"
    return levels


def _alerts(timeline: Sequence[Entry]) -> list[AlertCount]:
    seen: dict[str, dict[str, Any]] = {}
    for e in timeline:
        if e.kind != "attach":
            continue
        name = str(e.data.get("event"))
        at = aware(e.at)
        entry = seen.setdefault(name, {"count": 0, "first": at, "last": at, "state": {}})
        entry["count"] += 1
        entry["last"] = at
        entry["state"][str(e.data.get("identity") or name)] = e.data.get("status")
    return [
        AlertCount(
            name=name,
            count=v["count"],
            alerts=len(v["state"]),
            resolved=sum(1 for s in v["state"].values() if s == "resolved"),
            first=v["first"],
            last=v["last"],
        )
        for name, v in sorted(seen.items())
    ]


def _firings(timeline: Sequence[Entry]) -> list[RuleFiring]:
    """Per rule: how often it fired for the incident, first and last, on which events.

    The trigger firing that opened the incident was recorded before the incident existed, so
    it is taken from ``open_incident`` (and the event attached with it); later trigger firings
    and every raise or recovery firing carry the incident's id.
    """
    rules: dict[tuple[str, str], RuleFiring] = {}
    last_raise: RuleFiring | None = None

    def fired(at: datetime, role: str, rule: str, event: Any) -> RuleFiring:
        found = rules.get((role, rule))
        if found is None:
            found = rules[(role, rule)] = RuleFiring(
                role=role, rule=rule, count=0, first=at, last=at
            )
        found.count += 1
        found.last = at
        if event and str(event) not in found.events:
            found.events.append(str(event))
        return found

    opened = False
    for e in timeline:
        d = e.data
        if e.kind == "open_incident" and not opened:
            opened = True
            attached = next((x for x in timeline if x.kind == "attach"), None)
            event = attached.data.get("event") if attached is not None else None
            fired(aware(e.at), "trigger", str(d.get("trigger")), event)
        elif e.kind == "rule_fired":
            firing = fired(aware(e.at), str(d.get("role")), str(d.get("rule")), d.get("event"))
            last_raise = firing if firing.role == "raise" else None
        elif e.kind == "raise" and last_raise is not None:
            for k, v in (d.get("changes") or {}).items():
                last_raise.changes[str(k)] = str(v)
            last_raise = None
    return list(rules.values())


def _steps(timeline: Sequence[Entry]) -> list[StepRun]:
    steps: dict[str, StepRun] = {}
    for e in timeline:
        d = e.data
        if d.get("role") == "step" and e.kind == "run_step":
            run = steps.setdefault(str(d["step"]), StepRun(id=str(d["step"])))
            run.started = run.started or aware(e.at)
            run.attempts = max(run.attempts, int(d.get("attempt") or 0))
        elif e.kind == "call_done" and d.get("role") == "step":
            run = steps.setdefault(str(d["step"]), StepRun(id=str(d["step"])))
            run.call_seconds += float(d.get("seconds") or 0.0)
        elif e.kind == "step_outcome":
            run = steps.setdefault(str(d["step"]), StepRun(id=str(d["step"])))
            run.outcome = d.get("outcome")
            run.attempts = int(d.get("attempts") or run.attempts)
            run.finished = aware(e.at)
            run.error = d.get("error")
            if run.started is not None:
                run.duration = (run.finished - run.started).total_seconds()
    for run in steps.values():
        run.call_seconds = round(run.call_seconds, 4)
    return list(steps.values())


def _approvals(timeline: Sequence[Entry]) -> list[Approval]:
    out: dict[str, Approval] = {}
    for e in timeline:
        d = e.data
        if e.kind == "request_approval":
            out[str(d["step"])] = Approval(
                step=str(d["step"]),
                requested=aware(e.at),
                deadline=datetime.fromisoformat(str(d["deadline"])) if d.get("deadline") else None,
                decision="waiting",
            )
        elif e.kind == "decide_approval" and str(d.get("step")) in out:
            approval = out[str(d["step"])]
            approval.decision = "approved" if d.get("decision") == "approved" else "denied"
            approval.by, approval.decided = d.get("by"), aware(e.at)
        elif e.kind == "step_outcome" and d.get("outcome") == "expired" and str(d["step"]) in out:
            approval = out[str(d["step"])]
            if approval.decision == "waiting":
                approval.decision, approval.decided = "expired", aware(e.at)
        elif e.kind == "resolve":
            # A resolved incident drops its waiting approvals (engine.lifecycle._resolve).
            for approval in out.values():
                if approval.decision == "waiting":
                    approval.decision, approval.decided = "dropped", aware(e.at)
    return list(out.values())


def _notifications(timeline: Sequence[Entry]) -> list[Notification]:
    by_call: dict[str, Notification] = {}
    for e in timeline:
        d = e.data
        # "sync": an acknowledgement runbookd passed on to PagerDuty, not a page to a person
        if e.kind == "notify" and d.get("role") != "sync":
            by_call[str(d.get("call_id"))] = Notification(
                at=aware(e.at),
                level=str(d.get("level")),
                connector=str(d.get("connector")),
                reason=str(d.get("reason") or ""),
                outcome="pending",
            )
        elif e.kind == "call_done" and d.get("role") == "notify":
            found = by_call.get(str(d.get("call_id")))
            if found is not None:
                found.outcome = d.get("outcome") or "ok"
                found.error = d.get("error")
    return list(by_call.values())


def _impact(timeline: Sequence[Entry]) -> list[ImpactFigure]:
    asked: dict[str, Mapping[str, Any]] = {}
    figures: dict[str, ImpactFigure] = {}
    for e in timeline:
        d = e.data
        if e.kind == "run_step" and d.get("role") == "impact":
            asked[str(d.get("step"))] = d
        elif e.kind == "impact":
            figure_id = str(d.get("id"))
            call = asked.get(figure_id, {})
            params = call.get("params") or {}
            query = params.get("query") if isinstance(params, Mapping) else None
            value = d.get("value")
            figures[figure_id] = ImpactFigure(
                id=figure_id,
                title=str(d.get("title") or figure_id),
                value=value if isinstance(value, int | float | str) else None,
                unit=d.get("unit"),
                connector=call.get("connector"),
                query=str(query) if query is not None else None,
                measured=aware(e.at),
                error=d.get("error"),
            )
    return list(figures.values())


def _follow_up(row: Mapping[str, Any]) -> FollowUp:
    due = row.get("due_date")
    return FollowUp(
        id=int(row["id"]),
        title=str(row["title"]),
        owner=row.get("owner"),
        due=due if isinstance(due, date) or due is None else date.fromisoformat(str(due)),
        status="done" if row["status"] == "done" else "open",
        created=aware(row["created_at"]),
        created_by=str(row["created_by"]),
        updated=aware(row["updated_at"]),
        updated_by=str(row["updated_by"]),
    )


def _lessons(row: Mapping[str, Any] | None) -> Lessons | None:
    if row is None:
        return None
    return Lessons(
        text=str(row["text"]), updated=aware(row["updated_at"]), updated_by=str(row["updated_by"])
    )
