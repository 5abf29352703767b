"""SQL expressions that differ by backend: durations, week buckets and JSON fields.

Reports aggregate in the database (GROUP BY), so the few things SQLite and PostgreSQL spell
differently are built here, once, from the connection's dialect name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, cast, func
from sqlalchemy.sql.elements import ColumnElement

from runbookd.store import tables as t


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds (NULL when either is NULL)."""
    if dialect == "sqlite":
        # julianday() is in days with sub-millisecond precision over these spans.
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)


def week_start(dialect: str, moment: Any) -> ColumnElement[Any]:
    """The Monday (UTC) of the ISO week a time falls in, as text ``YYYY-MM-DD``."""
    if dialect == "sqlite":
        # 'weekday 0' moves forward to the week's Sunday (a Sunday stays), six days back is
        # its Monday. Stored times are UTC (SQLite keeps them as naive ISO text).
        return func.date(moment, "weekday 0", "-6 days")
    return func.to_char(func.date_trunc("week", func.timezone("UTC", moment)), "YYYY-MM-DD")


def detail_text(key: str) -> ColumnElement[Any]:
    """A text field of ``incident.detail`` (nature, team, handling, ...)."""
    field: ColumnElement[Any] = t.incident.c.detail[key].as_string()
    return field


def detail_int(key: str) -> ColumnElement[Any]:
    """An integer field of ``incident.detail`` (the escalation level reached)."""
    field: ColumnElement[Any] = t.incident.c.detail[key].as_integer()
    return field
