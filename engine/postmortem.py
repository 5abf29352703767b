"""The post-mortem draft an incident's own timeline yields (the full report is the service's)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from runbookd.engine.incident import Incident
from runbookd.engine.lang.durations import format_duration


def _since(start: datetime, end: datetime | None) -> str:
    return format_duration(end - start) if end is not None else "-"


def levels_reached(incident: Incident) -> list[tuple[str, datetime]]:
    """Escalation levels notified, in order: ``status_every`` updates re-notify the current
    level and are not levels reached (``Incident.levels_reached`` counts every notification)."""
    return [
        (str(c.data.get("level")), c.at)
        for c in incident.timeline
        if c.kind == "notify" and c.data.get("reason") != "status update"
    ]


def draft_markdown(incident: Incident) -> str:
    """Markdown built only from what happened: no field is left for a person to invent."""
    rb = incident.compiled.runbook
    lines = [
        f"# {rb.title} ({incident.id})",
        "",
        f"Plan section {rb.section}: a {incident.scope.value}, {incident.complexity.value} "
        f"{incident.nature.value} incident of {incident.severity.value} severity, handled by "
        f"runbook {rb.id} version {rb.version} (team {rb.team}).",
        "",
        "## Timings",
        f"- detected: {incident.opened_at.isoformat()}",
        f"- acknowledged: {incident.acked_at.isoformat() if incident.acked_at else '-'}"
        + (f" by {incident.acked_by}" if incident.acked_by else ""),
        f"- mitigated: {incident.mitigated_at.isoformat() if incident.mitigated_at else '-'}",
        f"- resolved: {incident.resolved_at.isoformat() if incident.resolved_at else '-'}",
        f"- time to acknowledge: {_since(incident.opened_at, incident.acked_at)}",
        f"- time to mitigate: {_since(incident.opened_at, incident.mitigated_at)}",
        f"- time to resolve: {_since(incident.opened_at, incident.resolved_at)}",
        "- escalation levels reached: "
        + (", ".join(f"{lvl} at {at.isoformat()}" for lvl, at in levels_reached(incident)) or "-"),
        "",
        "## Alerts",
    ]
    counts = Counter(incident.alert_names)
    lines += [f"- {name}: {n}" for name, n in sorted(counts.items())] or ["- none"]
    suppressed = Counter(
        str(c.data.get("suppressed_runbook")) for c in incident.timeline if c.kind == "suppress"
    )
    if suppressed:  # the incidents this one caused, kept from paging (engine.inhibition)
        lines += ["", "## Suppressed"]
        lines += [f"- {rid}: {n} alert(s)" for rid, n in sorted(suppressed.items())]
    lines += ["", "## Steps"]
    lines += [
        f"- {sid}: {s.outcome or 'not finished'} after {s.attempts} attempt(s)"
        + (f" ({s.error})" if s.error else "")
        for sid, s in incident.steps.items()
    ] or ["- none"]
    lines += ["", "## Impact"]
    impacts = {i.id: i for i in rb.postmortem.impact}
    lines += [
        f"- {impacts[iid].title}: {value if value is not None else 'unknown'}"
        + (f" {impacts[iid].unit}" if impacts[iid].unit and value is not None else "")
        for iid, value in incident.impacts.items()
    ] or ["- none measured"]
    return "\n".join(lines) + "\n"
