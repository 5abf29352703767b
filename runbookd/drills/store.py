"""Drill results in the database: written by ``runbookd drill`` and the scheduler, read by reports."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from runbookd.drills.run import DrillResult
from runbookd.store.tables import DrillRun


def to_row(result: DrillResult) -> DrillRun:
    details = result.to_dict()
    return DrillRun(
        runbook_id=result.runbook_id,
        runbook_version=result.runbook_version,
        started_at=result.started_at.astimezone(UTC),
        finished_at=result.finished_at.astimezone(UTC),
        passed=result.passed,
        score=result.score,
        details=json.dumps(
            {"section": result.section, "checks": details["checks"], "drills": details["drills"]}
        ),
    )


def save_drill_results(engine: Engine, results: Iterable[DrillResult]) -> list[DrillRun]:
    """Store one row per result, in one transaction; returns the rows with their ids."""
    rows = [to_row(r) for r in results]
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(rows)
        session.commit()
    return rows


def recent_drill_runs(
    session: Session, since: datetime, runbook_id: str | None = None
) -> list[DrillRun]:
    """Drill runs started at or after ``since``, newest first (optionally of one runbook).

    Times are stored in UTC; SQLite hands them back without a zone (read them as UTC), so
    ``since`` is converted to UTC before it is compared.
    """
    query = select(DrillRun).where(col(DrillRun.started_at) >= since.astimezone(UTC))
    if runbook_id is not None:
        query = query.where(DrillRun.runbook_id == runbook_id)
    return list(
        session.exec(query.order_by(col(DrillRun.started_at).desc(), col(DrillRun.id).desc()))
    )
