"""The ``/reports`` page: sections computed in SQL over a period, each a chart and its numbers.

``SECTIONS`` is the extension point: a list of functions ``(conn, period) -> Section`` drawn in
order. A new report (drill scores, say) is one more function appended there; it gets the same
connection and period and returns its chart and table. Every section aggregates with GROUP BY in
the database and reads back at most a few hundred rows, so the page stays fast at any size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection, and_, case, exists, func, select

from runbookd.store import tables as t
from runbookd.web import sqlfn
from runbookd.web.svg import bar_chart, trend_chart

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366


class PeriodError(ValueError):
    """A bad ``from``/``to`` parameter; the message names it."""


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC; shown to people as the inclusive dates ``first``..``last``."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime(self.last.year, self.last.month, self.last.day, tzinfo=UTC) + timedelta(
            days=1
        )

    @classmethod
    def parse(cls, raw_from: str | None, raw_to: str | None, today: date) -> Period:
        last = _date("to", raw_to) if raw_to else today
        first = _date("from", raw_from) if raw_from else last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise PeriodError(f"from: {first.isoformat()} is after to: {last.isoformat()}")
        if (last - first).days >= MAX_DAYS:
            raise PeriodError(f"from: the period may span at most {MAX_DAYS} days")
        return cls(first, last)


def _date(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise PeriodError(f"{name}: expected a date like 2026-11-25, got {raw[:40]!r}") from None


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Section:
    id: str
    title: str
    chart: Markup | None
    table: Table
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


SectionFn = Callable[[Connection, Period], Section]


def _in(period: Period) -> Any:
    c = t.incident.c
    return and_(c.opened_at >= period.start, c.opened_at < period.end)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def by_severity(conn: Connection, period: Period) -> Section:
    c = t.incident.c
    rows: dict[str, int] = dict(
        conn.execute(select(c.severity, func.count()).where(_in(period)).group_by(c.severity)).all()
    )
    order = ["critical", "high", "medium", "low"]
    order += sorted(k for k in rows if k not in order)
    items = [(s, float(rows.get(s, 0))) for s in order]
    return Section(
        "severity",
        "Incidents by severity",
        bar_chart(items, title="Incidents by severity"),
        Table(["severity", "incidents"], [[s, int(v)] for s, v in items]),
    )


def by_nature(conn: Connection, period: Period) -> Section:
    nature = sqlfn.detail_text("nature")
    rows = conn.execute(
        select(nature, func.count())
        .where(_in(period))
        .group_by(nature)
        .order_by(func.count().desc())
    ).all()
    items = [(str(n or "unknown"), float(k)) for n, k in rows]
    return Section(
        "nature",
        "Incidents by nature",
        bar_chart(items, title="Incidents by nature"),
        Table(["nature", "incidents"], [[n, int(v)] for n, v in items]),
    )


def by_chapter(conn: Connection, period: Period) -> Section:
    c = t.incident.c
    # GROUP BY section in SQL (a handful of rows), then fold sections into their chapter.
    rows = conn.execute(
        select(c.section, func.count()).where(_in(period)).group_by(c.section)
    ).all()
    chapters: dict[str, int] = {}
    for section, n in rows:
        chapter = str(section).split(".", 1)[0]
        chapters[chapter] = chapters.get(chapter, 0) + int(n)
    ordered = sorted(chapters.items(), key=lambda kv: (_chapter_key(kv[0]), kv[0]))
    items = [(f"chapter {ch}", float(n)) for ch, n in ordered]
    sections = sorted(((str(s), int(n)) for s, n in rows), key=lambda kv: _section_key(kv[0]))
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


def weekly_times(conn: Connection, period: Period) -> Section:
    c = t.incident.c
    dialect = conn.dialect.name
    week = sqlfn.week_start(dialect, c.opened_at).label("week")
    tta = sqlfn.seconds_between(dialect, c.opened_at, c.acknowledged_at)
    ttr = sqlfn.seconds_between(dialect, c.opened_at, c.resolved_at)
    rows = conn.execute(
        select(
            week,
            func.count(),
            func.avg(tta),
            func.count(c.acknowledged_at),
            func.avg(ttr),
            func.count(c.resolved_at),
        )
        .where(_in(period))
        .group_by(week)
        .order_by(week)
    ).all()
    weeks = [_iso_week(str(r[0])) for r in rows]
    mtta = [None if r[2] is None else round(float(r[2]) / 60, 1) for r in rows]
    mttr = [None if r[4] is None else round(float(r[4]) / 60, 1) for r in rows]
    return Section(
        "times",
        "Mean time to acknowledge and to resolve, per ISO week (minutes)",
        trend_chart(
            weeks, [("MTTA", mtta), ("MTTR", mttr)], title="MTTA and MTTR per week", unit=" min"
        ),
        Table(
            ["week", "incidents", "MTTA (min)", "acknowledged", "MTTR (min)", "resolved"],
            [
                [w, int(r[1]), a, int(r[3]), m, int(r[5])]
                for w, r, a, m in zip(weeks, rows, mtta, mttr, strict=True)
            ],
        ),
        note="Means over the incidents opened that week that were acknowledged (resolved).",
    )


def _iso_week(monday: str) -> str:
    year, week, _ = date.fromisoformat(monday[:10]).isocalendar()
    return f"{year}-W{week:02d}"


def escalation_rate(conn: Connection, period: Period) -> Section:
    c = t.incident.c
    escalated = func.sum(case((sqlfn.detail_int("level") > 0, 1), else_=0))
    rows = conn.execute(
        select(c.runbook, func.count(), escalated)
        .where(_in(period))
        .group_by(c.runbook)
        .order_by(c.runbook)
    ).all()
    total = sum(int(r[1]) for r in rows)
    up = sum(int(r[2] or 0) for r in rows)
    items = [(str(r[0]), _pct(int(r[2] or 0), int(r[1])) or 0.0) for r in rows]
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
            [[str(r[0]), int(r[1]), int(r[2] or 0), _pct(int(r[2] or 0), int(r[1]))] for r in rows]
            + [["all runbooks", total, up, _pct(up, total)]],
        ),
        note="Escalated: the incident reached a level after the first (nobody acknowledged in time, or a step asked for it).",
        extra={"total": total, "escalated": up},
    )


def remediation(conn: Connection, period: Period) -> Section:
    c = t.incident.c
    # "Attempted": at least one step finished (ok, failed, skipped) -- one probe per incident on
    # the (incident_id, id) index. "Succeeded": the steps brought the incident to mitigated.
    attempted = exists().where(
        t.timeline.c.incident_id == c.id, t.timeline.c.kind == "step_outcome"
    )
    rows = conn.execute(
        select(c.runbook, func.count(), func.count(c.mitigated_at))
        .where(_in(period), attempted)
        .group_by(c.runbook)
        .order_by(c.runbook)
    ).all()
    items = [(str(r[0]), _pct(int(r[2]), int(r[1])) or 0.0) for r in rows]
    return Section(
        "remediation",
        "Remediation success rate by runbook",
        bar_chart(items, title="Remediation success rate by runbook", unit="%", max_value=100),
        Table(
            ["runbook", "remediations run", "succeeded", "rate %"],
            [[str(r[0]), int(r[1]), int(r[2]), _pct(int(r[2]), int(r[1]))] for r in rows],
        ),
        note="Succeeded: the runbook's steps brought the incident to mitigated.",
    )


def noisy(conn: Connection, period: Period) -> Section:
    c = t.incident.c
    unacked = func.sum(
        case((and_(c.acknowledged_at.is_(None), c.resolved_at.is_not(None)), 1), else_=0)
    )
    rows = conn.execute(
        select(c.runbook, func.count(), func.sum(c.alerts), unacked)
        .where(_in(period))
        .group_by(c.runbook)
        .order_by(func.count().desc(), c.runbook)
        .limit(10)
    ).all()
    return Section(
        "noisy",
        "Top noisy runbooks",
        bar_chart([(str(r[0]), float(r[1])) for r in rows], title="Incidents per runbook (top 10)"),
        Table(
            ["runbook", "incidents", "alerts", "resolved without acknowledgement"],
            [[str(r[0]), int(r[1]), int(r[2] or 0), int(r[3] or 0)] for r in rows],
        ),
        note="Many incidents that resolve before anyone acknowledges them point at a rule to tune.",
    )


def follow_ups(conn: Connection, period: Period) -> Section:
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
        extra={"link_column": 0},
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
]


def build(
    conn: Connection, period: Period, sections: list[SectionFn] | None = None
) -> list[Section]:
    return [fn(conn, period) for fn in (SECTIONS if sections is None else sections)]
