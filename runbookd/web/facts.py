"""What the ``/reports`` sections are computed from: the period a person asked for, and the
period's incidents grouped once by every key the built-in sections need (``Report.facts``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection, and_, case, exists, func, literal_column, select

from runbookd.engine.lang.model import Runbook
from runbookd.service.fired import Coverage, coverage
from runbookd.store import tables as t
from runbookd.web import sqlfn

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


@dataclass(frozen=True)
class Fact:
    """One group of the period's incidents sharing every key below, with its sums."""

    runbook: str
    section: str
    severity: str
    nature: str
    week: str
    escalated: bool
    remediated: bool
    incidents: int
    tta_sum: float
    acknowledged: int
    ttr_sum: float
    resolved: int
    alerts: int
    resolved_unacked: int
    mitigated: int


@dataclass
class Report:
    """What a section gets: the connection, the period, and the period's facts (one query)."""

    conn: Connection
    period: Period
    _facts: list[Fact] | None = None
    #: The running library, for sections about runbooks that did nothing (never fired).
    runbooks: Sequence[Runbook] = ()
    _coverage: Coverage | None = None

    def coverage(self) -> Coverage:
        """Which runbooks and triggers fired in the period (runbookd.service.fired), computed
        once for the sections that show it."""
        if self._coverage is None:
            self._coverage = coverage(self.conn, self.runbooks, self.period.start, self.period.end)
        return self._coverage

    def facts(self) -> list[Fact]:
        """The incidents of the period grouped by every key the built-in sections need.

        One GROUP BY pass over the period's rows (found by the ``opened_at`` index) instead
        of one per section; what comes back is a few hundred groups at most (runbooks x
        severities x weeks x two flags), which the sections fold.
        """
        if self._facts is None:
            self._facts = _facts(self.conn, self.period)
        return self._facts


SectionFn = Callable[[Report], Section]


def _facts(conn: Connection, period: Period) -> list[Fact]:
    c = t.incident.c
    dialect = conn.dialect.name
    keys = (
        c.runbook,
        c.section,
        c.severity,
        func.coalesce(sqlfn.detail_text("nature"), "unknown"),
        sqlfn.week_start(dialect, c.opened_at),
        case((sqlfn.detail_int("level") > 0, 1), else_=0),
        # A literal, not a bound parameter: only then can SQLite use the partial index.
        case(
            (
                exists().where(
                    t.timeline.c.incident_id == c.id,
                    t.timeline.c.kind == literal_column("'step_outcome'"),
                ),
                1,
            ),
            else_=0,
        ),
    )
    labelled = [k.label(f"k{i}") for i, k in enumerate(keys)]
    unacked = and_(c.acknowledged_at.is_(None), c.resolved_at.is_not(None))
    query = (
        select(
            *labelled,
            func.count(),
            func.sum(sqlfn.seconds_between(dialect, c.opened_at, c.acknowledged_at)),
            func.count(c.acknowledged_at),
            func.sum(sqlfn.seconds_between(dialect, c.opened_at, c.resolved_at)),
            func.count(c.resolved_at),
            func.sum(c.alerts),
            func.sum(case((unacked, 1), else_=0)),
            func.count(c.mitigated_at),
        )
        .where(c.opened_at >= period.start, c.opened_at < period.end)
        .group_by(*(literal_column(f"k{i}") for i in range(len(keys))))
    )
    return [
        Fact(
            runbook=str(r[0]),
            section=str(r[1]),
            severity=str(r[2]),
            nature=str(r[3]),
            week=str(r[4])[:10],
            escalated=bool(r[5]),
            remediated=bool(r[6]),
            incidents=int(r[7]),
            tta_sum=float(r[8] or 0.0),
            acknowledged=int(r[9]),
            ttr_sum=float(r[10] or 0.0),
            resolved=int(r[11]),
            alerts=int(r[12] or 0),
            resolved_unacked=int(r[13] or 0),
            mitigated=int(r[14]),
        )
        for r in conn.execute(query)
    ]
