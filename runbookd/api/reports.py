"""``GET /api/v1/reports/coverage``: which runbooks and triggers never fired, which alertnames
arrived without a runbook (runbookd.service.fired); the ``/reports`` page shows the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.params import Depends
from sqlalchemy.exc import SQLAlchemyError

from runbookd.api.incidents import _utc_param
from runbookd.api.problems import errors
from runbookd.api.runbooks import running_runbooks
from runbookd.service.core import Service
from runbookd.service.fired import DEFAULT_PERIOD, TOP_UNMATCHED, Coverage, coverage

#: The longest period one request may cover: the queries scan the period's rows.
MAX_PERIOD_DAYS = 366


def read_coverage(service: Service, since: datetime, until: datetime, top: int) -> Coverage:
    """The period's coverage, or a 503 when the store does not answer (blocking)."""
    try:
        with service.db.connect() as conn:
            return coverage(conn, running_runbooks(service), since, until, top)
    except SQLAlchemyError as exc:
        raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None


def period(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """``[since, until)`` in UTC from the parameters, or a 400 naming the one that is wrong."""
    end = _utc_param("until", until) or now
    start = _utc_param("since", since) or end - DEFAULT_PERIOD
    if start >= end:
        raise HTTPException(400, f"since: {start.isoformat()} is not before until")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise HTTPException(400, f"since: the period may span at most {MAX_PERIOD_DAYS} days")
    return start, end


def kept(retention: timedelta | None, start: datetime, now: datetime) -> dict[str, Any]:
    """Whether the alert counts cover the whole period: outcome rows older than
    ``retention.alert_outcomes`` are deleted (the incident counts are kept for ever)."""
    if retention is None:
        return {"alerts_kept_since": None, "alerts_complete": True}
    oldest = now - retention
    return {"alerts_kept_since": oldest.isoformat(), "alerts_complete": start >= oldest}


def reports_router(service: Service, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/reports", tags=["reports"], dependencies=dependencies)

    @router.get(
        "/coverage",
        summary="Runbooks and triggers that never fired; alertnames without a runbook",
        responses=errors(400),
    )
    async def coverage_report(
        since: Annotated[
            datetime | None,
            Query(description="Start of the period (RFC 3339); default until - 30d."),
        ] = None,
        until: Annotated[
            datetime | None, Query(description="End of the period, exclusive; default now.")
        ] = None,
        top: Annotated[
            int, Query(ge=1, le=1000, description="Unmatched alertnames listed at most.")
        ] = TOP_UNMATCHED,
    ) -> dict[str, Any]:
        # One "now" for both: the default period (30 days) then ends exactly where the default
        # retention (30 days) begins, and counts as complete.
        now = datetime.now(UTC)
        start, end = period(since, until, now)
        found = await asyncio.to_thread(read_coverage, service, start, end, top)
        return found.to_dict() | kept(service.options.outcome_retention, start, now)

    return router
