"""The ``/reports`` page: sections computed in SQL over a period, each a chart and its numbers.

``SECTIONS`` is the extension point: a list of functions ``(report) -> Section`` drawn in order.
A new report (drill scores, say) is one more function appended there; it gets ``report.conn``
and ``report.period`` and returns its chart and table. The built-in sections fold one shared
GROUP BY over the period's incidents (``Report.facts``); a new section should aggregate in SQL
too and read back a few hundred rows at most, so the page stays fast at any size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy import Connection, case, func, select

from runbookd.engine.lang.model import Runbook
from runbookd.store import tables as t
from runbookd.store.tables import DrillRun
from runbookd.web import coverage_sections
from runbookd.web.facts import Fact, Period, Report, Section, SectionFn, Table
from runbookd.web.svg import bar_chart, trend_chart


def _count(facts: list[Fact], key: Callable[[Fact], str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in facts:
        out[key(f)] = out.get(key(f), 0) + f.incidents
    return out


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def by_severity(report: Report) -> Section:
    rows = _count(report.facts(), lambda f: f.severity)
    order = ["critical", "high", "medium", "low"]
    order += sorted(k for k in rows if k not in order)
    items = [(s, float(rows.get(s, 0))) for s in order]
    return Section(
        "severity",
        "Incidents by severity",
        bar_chart(items, title="Incidents by severity"),
        Table(["severity", "incidents"], [[s, int(v)] for s, v in items]),
    )


def by_nature(report: Report) -> Section:
    rows = _count(report.facts(), lambda f: f.nature)
    items = [(n, float(k)) for n, k in sorted(rows.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Section(
        "nature",
        "Incidents by nature",
        bar_chart(items, title="Incidents by nature"),
        Table(["nature", "incidents"], [[n, int(v)] for n, v in items]),
    )


def by_chapter(report: Report) -> Section:
    rows = _count(report.facts(), lambda f: f.section)
    chapters: dict[str, int] = {}
    for section, n in rows.items():
        chapter = section.split(".", 1)[0]
        chapters[chapter] = chapters.get(chapter, 0) + n
    ordered = sorted(chapters.items(), key=lambda kv: (_chapter_key(kv[0]), kv[0]))
    items = [(f"chapter {ch}", float(n)) for ch, n in ordered]
    sections = sorted(rows.items(), key=lambda kv: _section_key(kv[0]))
    return Section(
        "chapter",
        "Incidents by plan chapter",
        bar_chart(items, title="Incidents by plan chapter"),
        Table(["plan section", "incidents"], [[s, n] for s, n in sections]),
    )


def _chapter_key(chapter: str) -> int:
    return int(chapter) if chapter.isdigit() else 1_000_000


def _section_key(section: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 1_000_000 for p in section.split("."))


def weekly_times(report: Report) -> Section:
    weeks: dict[str, list[float]] = {}
    for f in report.facts():
        w = weeks.setdefault(f.week, [0, 0.0, 0, 0.0, 0])
        w[0] += f.incidents
        w[1] += f.tta_sum
        w[2] += f.acknowledged
        w[3] += f.ttr_sum
        w[4] += f.resolved
    ordered = sorted(weeks.items())
    labels = [_iso_week(monday) for monday, _ in ordered]
    mtta = [round(w[1] / w[2] / 60, 1) if w[2] else None for _, w in ordered]
    mttr = [round(w[3] / w[4] / 60, 1) if w[4] else None for _, w in ordered]
    return Section(
        "times",
        "Mean time to acknowledge and to resolve, per ISO week (minutes)",
        trend_chart(
            labels, [("MTTA", mtta), ("MTTR", mttr)], title="MTTA and MTTR per week", unit=" min"
        ),
        Table(
            ["week", "incidents", "MTTA (min)", "acknowledged", "MTTR (min)", "resolved"],
            [
                [label, int(w[0]), a, int(w[2]), m, int(w[4])]
                for label, (_, w), a, m in zip(labels, ordered, mtta, mttr, strict=True)
            ],
        ),
        note="Means over the incidents opened that week that were acknowledged (resolved).",
        extra={"wide": True},
    )


def _iso_week(monday: str) -> str:
    year, week, _ = date.fromisoformat(monday[:10]).isocalendar()
    return f"{year}-W{week:02d}"


def escalation_rate(report: Report) -> Section:
    per: dict[str, list[int]] = {}
    for f in report.facts():
        row = per.setdefault(f.runbook, [0, 0])
        row[0] += f.incidents
        row[1] += f.incidents if f.escalated else 0
    rows = sorted(per.items())
    total = sum(n for _, (n, _) in rows)
    up = sum(e for _, (_, e) in rows)
    items = [(rb, _pct(e, n) or 0.0) for rb, (n, e) in rows]
    return Section(
        "escalation",
        "Escalation rate",
        bar_chart(
            items,
            title="Share of incidents escalated past the first level, by runbook",
            unit="%",
            max_value=100,
        ),
        Table(
            ["runbook", "incidents", "escalated", "rate %"],
            [[rb, n, e, _pct(e, n)] for rb, (n, e) in rows]
            + [["all runbooks", total, up, _pct(up, total)]],
        ),
        note="Escalated: the incident reached a level after the first (nobody acknowledged in time, or a step asked for it).",
        extra={"total": total, "escalated": up},
    )


def remediation(report: Report) -> Section:
    # "Run": at least one step finished (ok, failed or skipped). "Succeeded": the steps brought
    # the incident to mitigated (only handling sets mitigated_at).
    per: dict[str, list[int]] = {}
    for f in report.facts():
        if f.remediated:
            row = per.setdefault(f.runbook, [0, 0])
            row[0] += f.incidents
            row[1] += f.mitigated
    rows = sorted(per.items())
    items = [(rb, _pct(ok, n) or 0.0) for rb, (n, ok) in rows]
    return Section(
        "remediation",
        "Remediation success rate by runbook",
        bar_chart(items, title="Remediation success rate by runbook", unit="%", max_value=100),
        Table(
            ["runbook", "remediations run", "succeeded", "rate %"],
            [[rb, n, ok, _pct(ok, n)] for rb, (n, ok) in rows],
        ),
        note="Succeeded: the runbook's steps brought the incident to mitigated.",
    )


def noisy(report: Report) -> Section:
    per: dict[str, list[int]] = {}
    for f in report.facts():
        row = per.setdefault(f.runbook, [0, 0, 0])
        row[0] += f.incidents
        row[1] += f.alerts
        row[2] += f.resolved_unacked
    rows = sorted(per.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]
    return Section(
        "noisy",
        "Top noisy runbooks",
        bar_chart([(rb, float(v[0])) for rb, v in rows], title="Incidents per runbook (top 10)"),
        Table(
            ["runbook", "incidents", "alerts", "resolved without acknowledgement"],
            [[rb, *v] for rb, v in rows],
        ),
        note="Many incidents that resolve before anyone acknowledges them point at a rule to tune.",
    )


def follow_ups(report: Report) -> Section:
    conn = report.conn
    fu, c = t.follow_up.c, t.incident.c
    still_open = fu.status.in_(("open", "in_progress"))
    by_status: dict[str, int] = dict(
        conn.execute(select(fu.status, func.count()).where(still_open).group_by(fu.status)).all()
    )
    rows = conn.execute(
        select(fu.incident_id, c.title, fu.title, fu.owner, fu.due_date, fu.status)
        .select_from(t.follow_up.outerjoin(t.incident, c.id == fu.incident_id))
        .where(still_open)
        .order_by(fu.due_date.is_(None), fu.due_date, fu.id)
        .limit(100)
    ).all()
    items = [(str(s).replace("_", " "), float(n)) for s, n in sorted(by_status.items())]
    return Section(
        "follow-ups",
        "Open follow-up items",
        bar_chart(items, title="Open follow-up items by status"),
        Table(
            ["incident", "incident title", "item", "owner", "due", "status"],
            [
                [r[0], r[1] or "", r[2], r[3] or "", r[4].isoformat() if r[4] else "", r[5]]
                for r in rows
            ],
        ),
        note="All items still open, whatever the period (the 100 due first).",
        extra={"link_column": 0, "wide": True},
    )


def drill_scores(report: Report) -> Section:
    """Plan 12.1.2: how each runbook's drills went in the period (``runbookd drill``, schedules)."""
    d = DrillRun.__table__.c  # type: ignore[attr-defined]
    period = report.period
    rows = report.conn.execute(
        select(
            d.runbook_id,
            func.count(),
            func.sum(case((d.passed, 1), else_=0)),
            func.avg(d.score),
            func.min(d.score),
            func.max(d.started_at),
        )
        .where(d.started_at >= period.start, d.started_at < period.end)
        .group_by(d.runbook_id)
        .order_by(func.avg(d.score), d.runbook_id)
    ).all()
    table_rows = [
        [
            rb,
            int(runs),
            int(passed or 0),
            round(float(avg or 0.0), 2),
            round(float(low or 0.0), 2),
            str(last)[:16],
        ]
        for rb, runs, passed, avg, low, last in rows
    ]
    return Section(
        "drills",
        "Drill scores",
        bar_chart(
            [(r[0], 100.0 * r[3]) for r in table_rows[:20]],
            title="Average drill score by runbook (lowest first)",
            unit="%",
            max_value=100,
        ),
        Table(["runbook", "drills", "passed", "average score", "lowest", "last drill"], table_rows),
        note="Drills run a runbook end to end on synthetic signals with connectors in dry-run "
        "(`runbookd drill`, or the `drills:` schedules); a score below 1 names what failed.",
    )


#: The report, in page order. Append a function to add a section (see the module docstring).
SECTIONS: list[SectionFn] = [
    by_severity,
    by_nature,
    by_chapter,
    weekly_times,
    escalation_rate,
    remediation,
    noisy,
    follow_ups,
    drill_scores,
    coverage_sections.never_fired,
    coverage_sections.unmatched,
]


def build(
    conn: Connection,
    period: Period,
    sections: list[SectionFn] | None = None,
    runbooks: Sequence[Runbook] = (),
) -> list[Section]:
    report = Report(conn, period, runbooks=runbooks)
    return [fn(report) for fn in (SECTIONS if sections is None else sections)]
