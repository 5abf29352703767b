"""The ``/reports`` sections of issue 17 §7: runbooks and triggers that never fired in the
period, and the alertnames that arrived most often without a runbook (runbookd.service.fired,
the same figures as ``GET /api/v1/reports/coverage``)."""

from __future__ import annotations

from runbookd.web.facts import Report, Section, Table
from runbookd.web.svg import bar_chart


def never_fired(report: Report) -> Section:
    found = report.coverage()
    rows: list[list[object]] = []
    for use in found.runbooks:
        silent = [u.trigger for u in use.triggers if u.incidents == 0]
        if use.fired and not silent:
            continue
        rows.append(
            [
                use.id,
                use.section,
                "all" if not use.fired else ", ".join(silent),
                use.incidents,
                use.alerts,
            ]
        )
    return Section(
        "never-fired",
        "Runbooks and triggers that never fired",
        None,
        Table(
            ["runbook", "plan section", "triggers that opened nothing", "incidents", "alerts"], rows
        ),
        note="A runbook never fired when it opened no incident and took no alert in the period; "
        "a trigger, when it opened no incident. Rehearse them with a drill (runbookd drill) "
        "before the day they are needed. The fallback runbook is not listed.",
        extra={"wide": True, "runbooks": len(found.runbooks), "never": len(found.never_fired)},
    )


def unmatched(report: Report) -> Section:
    found = report.coverage()
    items = [(u.name, float(u.alerts)) for u in found.unmatched]
    return Section(
        "unmatched",
        "Alerts without a runbook",
        bar_chart(items, title="Firing alerts that matched no runbook, by alertname")
        if items
        else None,
        Table(
            ["alertname", "alerts", "last"],
            [[u.name, u.alerts, u.last_at.isoformat()[:16]] for u in found.unmatched],
        ),
        note="The most frequent first. runbookd scaffold starts a runbook from the alert's rule "
        "(docs/adoption.md).",
    )
