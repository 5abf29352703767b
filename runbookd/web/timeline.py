"""An incident's timeline rows as chart marks: which lane, point or span, and what it says.

Lanes follow what a manager asks in order: what fired (alerts, rules), what runbookd did
(steps), who was called (escalation), and what people did (acknowledge, approve, notes,
resolve). Timer bookkeeping stays in the table only: it is not an event anyone acted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from markupsafe import Markup

from runbookd.web.queries import TimelineRow
from runbookd.web.svg import Mark, timeline_chart

LANES = ("Alerts", "Rules", "Steps", "Escalation", "People")
_POINT_LANE = {
    "open_incident": "Alerts",
    "attach": "Alerts",
    "rule_fired": "Rules",
    "raise": "Rules",
    "step_outcome": "Steps",
    "impact": "Steps",
    "request_approval": "People",
    "decide_approval": "People",
    "escalate": "Escalation",
    "acknowledge": "People",
    "note": "People",
    "resolve": "People",
    "close": "People",
    "reopen": "People",
}


def marks(rows: Sequence[TimelineRow], end: datetime) -> list[Mark]:
    """Connector calls become spans (from ``run_step``/``notify`` to their ``call_done``)."""
    done = {
        str(r.data.get("call_id")): r
        for r in rows
        if r.kind == "call_done" and r.data.get("call_id")
    }
    out: list[Mark] = []
    for r in rows:
        title = f"{r.at.strftime('%H:%M:%S')} {r.kind}: {r.summary}"
        if r.kind in ("run_step", "notify"):
            lane = "Escalation" if r.kind == "notify" else "Steps"
            finished = done.get(str(r.data.get("call_id")))
            outcome = str(finished.data.get("outcome")) if finished else "running"
            name = str(r.data.get("step") or r.data.get("level") or r.data.get("connector") or "")
            out.append(
                Mark(
                    lane=lane,
                    at=r.at,
                    end=finished.at if finished else end,
                    title=f"{title} -> {outcome}",
                    css=f"call {_css(outcome)}",
                    label=name,
                )
            )
            continue
        point_lane = _POINT_LANE.get(r.kind)
        if point_lane is None:
            continue
        css = r.kind.replace("_", "-")
        if r.kind == "step_outcome":
            css += " " + _css(str(r.data.get("outcome")))
        elif r.kind == "decide_approval":
            css += " " + _css(str(r.data.get("decision")))
        out.append(Mark(lane=point_lane, at=r.at, title=title, css=css))
    return out


def chart(rows: Sequence[TimelineRow], start: datetime, end: datetime, incident_id: str) -> Markup:
    """The incident page's chart, from the incident's opening to its resolution (or now).

    An incident open for weeks with nothing new would squash every mark against the left edge;
    the axis then ends shortly after the last entry, and calls still running end there too.
    """
    first = min((r.at for r in rows), default=start)
    last = max((r.at for r in rows), default=start)
    lo = min(first, start)
    hi = max(last, end)
    if hi - last > (last - lo) * 0.25 + timedelta(minutes=5):
        hi = last + (last - lo) * 0.25 + timedelta(minutes=5)
    return timeline_chart(
        marks(rows, hi),
        LANES,
        lo,
        hi,
        title=f"Timeline of {incident_id}: alerts, rules, steps, escalation, people",
    )


def _css(outcome: str) -> str:
    # A fixed vocabulary: the outcome text comes from the engine, but a class name is no place
    # for anything unexpected.
    return {
        "ok": "ok",
        "done": "ok",
        "approved": "ok",
        "failed": "bad",
        "retryable": "bad",
        "denied": "bad",
        "rolled_back": "bad",
        "skipped": "muted",
        "running": "running",
    }.get(outcome, "other")
