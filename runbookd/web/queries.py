"""What the incident pages read: a filtered, paged list and one incident with its timeline.

Blocking functions on a SQLAlchemy connection (the routes run them in a thread). Every filter is
a bound parameter; text search escapes LIKE wildcards, so ``%`` in a search is a percent sign.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, and_, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from runbookd.store import tables as t
from runbookd.store.codec import loads

OPEN_STATUSES = ("triggered", "acknowledged", "mitigated")
STATUSES = (*OPEN_STATUSES, "resolved", "closed")
SEVERITIES = ("critical", "high", "medium", "low")
PAGE_SIZE = 50
#: Timeline rows drawn and listed for one incident; an alert storm must not make a 10 MB page.
TIMELINE_LIMIT = 2000

_LIST_COLUMNS = (
    t.incident.c.id,
    t.incident.c.runbook,
    t.incident.c.section,
    t.incident.c.title,
    t.incident.c.severity,
    t.incident.c.status,
    t.incident.c.key,
    t.incident.c.opened_at,
    t.incident.c.acknowledged_by,
    t.incident.c.resolved_at,
    t.incident.c.alerts,
    t.incident.c.detail,
)


def _text(value: str | None, limit: int) -> str:
    # No stored value holds a NUL, and PostgreSQL refuses one in a query parameter (a 503
    # instead of "nothing found"), so it is dropped with the surrounding blanks.
    return (value or "").replace("\x00", "").strip()[:limit]


@dataclass(frozen=True)
class Filters:
    """The list page's GET parameters, validated (unknown values are dropped, not errors)."""

    status: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    runbook: str = ""
    section: str = ""
    text: str = ""
    page: int = 1

    @classmethod
    def parse(cls, params: Any) -> Filters:
        """From a Starlette ``QueryParams`` (repeated keys allowed)."""
        try:
            page = max(1, min(int(params.get("page") or 1), 1_000_000))
        except ValueError:
            page = 1
        return cls(
            status=tuple(s for s in params.getlist("status") if s in STATUSES),
            severity=tuple(s for s in params.getlist("severity") if s in SEVERITIES),
            runbook=_text(params.get("runbook"), 128),
            section=_text(params.get("section"), 32),
            text=_text(params.get("q"), 200),
            page=page,
        )

    def where(self) -> list[ColumnElement[bool]]:
        c = t.incident.c
        out: list[ColumnElement[bool]] = []
        if self.status:
            out.append(c.status.in_(self.status))
        if self.severity:
            out.append(c.severity.in_(self.severity))
        if self.runbook:
            out.append(c.runbook == self.runbook)
        if self.section:
            # "3" means chapter 3 (3.1, 3.2, ...); "3.3" means that section only.
            out.append(or_(c.section == self.section, c.section.startswith(self.section + ".")))
        if self.text:
            needle = self.text
            out.append(
                or_(
                    c.id.icontains(needle, autoescape=True),
                    c.title.icontains(needle, autoescape=True),
                    c.key.icontains(needle, autoescape=True),
                    cast(c.labels, String).icontains(needle, autoescape=True),
                )
            )
        return out

    def query(self, **change: Any) -> list[tuple[str, str]]:
        """These filters as query parameters, with some changed (for links and pagination)."""
        values = {
            "status": self.status,
            "severity": self.severity,
            "runbook": self.runbook,
            "section": self.section,
            "q": self.text,
            "page": self.page,
            **change,
        }
        out: list[tuple[str, str]] = []
        for key, value in values.items():
            if isinstance(value, tuple):
                out += [(key, v) for v in value]
            elif value and not (key == "page" and value == 1):
                out.append((key, str(value)))
        return out


@dataclass
class IncidentRow:
    id: str
    runbook: str
    section: str
    title: str
    severity: str
    status: str
    key: str
    opened_at: datetime
    resolved_at: datetime | None
    acknowledged_by: str | None
    alerts: int
    level: int
    team: str | None


@dataclass
class Page:
    rows: list[IncidentRow]
    total: int
    page: int
    pages: int
    #: open incidents per severity, whatever the filters (the banner at the top)
    open_by_severity: dict[str, int] = field(default_factory=dict)
    runbooks: list[str] = field(default_factory=list)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; every stored time is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_incidents(conn: Connection, filters: Filters) -> Page:
    where = filters.where()
    condition = and_(*where) if where else None
    count = select(func.count()).select_from(t.incident)
    rows_q = select(*_LIST_COLUMNS).order_by(t.incident.c.opened_at.desc(), t.incident.c.id)
    if condition is not None:
        count = count.where(condition)
        rows_q = rows_q.where(condition)
    total = int(conn.execute(count).scalar() or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(filters.page, pages)
    rows_q = rows_q.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    rows = [_row(r) for r in conn.execute(rows_q)]
    banner = conn.execute(
        select(t.incident.c.severity, func.count())
        .where(t.incident.c.status.in_(OPEN_STATUSES))
        .group_by(t.incident.c.severity)
    ).all()
    runbooks = conn.execute(
        select(t.incident.c.runbook).distinct().order_by(t.incident.c.runbook)
    ).scalars()
    return Page(
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        open_by_severity={str(s): int(n) for s, n in banner},
        runbooks=list(runbooks),
    )


def _row(r: Any) -> IncidentRow:
    detail = r.detail if isinstance(r.detail, dict) else {}
    return IncidentRow(
        id=r.id,
        runbook=r.runbook,
        section=r.section,
        title=r.title,
        severity=r.severity,
        status=r.status,
        key=r.key,
        opened_at=aware(r.opened_at) or r.opened_at,
        resolved_at=aware(r.resolved_at),
        acknowledged_by=r.acknowledged_by,
        alerts=int(r.alerts),
        level=int(detail.get("level") or 0),
        team=detail.get("team"),
    )


@dataclass
class TimelineRow:
    id: int
    at: datetime
    kind: str
    summary: str
    data: dict[str, Any]


@dataclass
class IncidentView:
    incident: dict[str, Any]
    timeline: list[TimelineRow]
    truncated: bool
    follow_ups: list[dict[str, Any]]


def load_incident(conn: Connection, incident_id: str) -> IncidentView | None:
    row = conn.execute(select(t.incident).where(t.incident.c.id == incident_id)).first()
    if row is None:
        return None
    incident = dict(row._mapping)
    for name in ("opened_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at"):
        incident[name] = aware(incident[name])
    tl = t.timeline.c
    rows = conn.execute(
        select(tl.id, tl.at, tl.kind, tl.summary, tl.data, tl.journal_seq)
        .where(tl.incident_id == incident_id)
        .order_by(tl.id)
        .limit(TIMELINE_LIMIT + 1)
    ).all()
    truncated = len(rows) > TIMELINE_LIMIT
    rows = rows[:TIMELINE_LIMIT]
    timeline = [
        TimelineRow(r.id, aware(r.at) or r.at, r.kind, r.summary, loads(r.data)) for r in rows
    ]
    opening = next((r for r in rows if r.kind == "open_incident"), None)
    if opening is not None:
        timeline = _trigger_firings(conn, opening, incident["key"]) + timeline
    fu = t.follow_up.c
    follow_ups = [
        dict(r._mapping)
        for r in conn.execute(
            select(fu.id, fu.title, fu.owner, fu.due_date, fu.status)
            .where(fu.incident_id == incident_id)
            .order_by(fu.id)
        )
    ]
    return IncidentView(incident, timeline, truncated, follow_ups)


def _trigger_firings(conn: Connection, opening: Any, key: str) -> list[TimelineRow]:
    """The trigger firings that opened the incident.

    The engine records them before the incident exists (no incident id), in the same commit as
    ``open_incident``: the same journal watermark, just below it in id order. A bounded id range
    keeps this an index range scan on the primary key.
    """
    tl = t.timeline.c
    rows = conn.execute(
        select(tl.id, tl.at, tl.kind, tl.summary, tl.data)
        .where(
            tl.id.between(opening.id - 500, opening.id),
            tl.incident_id.is_(None),
            tl.kind == "rule_fired",
            tl.journal_seq == opening.journal_seq,
        )
        .order_by(tl.id)
    ).all()
    out = []
    for r in rows:
        data = loads(r.data)
        if data.get("key") == key:
            out.append(TimelineRow(r.id, aware(r.at) or r.at, r.kind, r.summary, data))
    return out
