"""Every received alert and event with what it did: ``GET /api/v1/alerts``.

Reads the ``alert_outcome`` rows the engine thread writes (``runbookd.service.outcomes``), newest
first. Status, alertname, outcome and time are filtered by the database; label matchers in
Alertmanager's syntax (``match={severity=~"crit.*",job!="x"}``) are applied to the rows it
returns, page by page, scanning at most ``SCAN_MAX`` rows (``complete`` says whether the scan
reached the end of the range).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends
from sqlalchemy import Row, Select, select
from sqlmodel import Field, SQLModel

from runbookd.api.incidents import _utc, _utc_param, read_rows
from runbookd.api.problems import errors
from runbookd.engine.matchers import Matcher, MatcherError, matches_all, parse_matchers
from runbookd.engine.outcomes import OUTCOMES, OutcomeKind, describe
from runbookd.service.core import Service
from runbookd.store import tables as t
from runbookd.store.codec import loads

#: Rows read from the store per request at most when label matchers filter in memory.
SCAN_MAX = 20_000
_PAGE = 1_000

#: The outcome vocabulary is the engine's (engine.outcomes): one list, so none can drift.
Outcome = OutcomeKind


class AlertOutcome(SQLModel):
    id: int
    at: datetime = Field(description="When runbookd received it.")
    kind: str = Field(description="alert or event")
    name: str = Field(description="The alertname, or the event's name.")
    status: str
    fingerprint: str | None
    outcome: str = Field(description=", ".join(OUTCOMES))
    incident: str | None = Field(
        description="The incident it opened, joined or concerned; for suppressed, the inhibitor."
    )
    runbook: str | None
    summary: str = Field(description="What it did, in words.")
    labels: dict[str, str]
    results: list[dict[str, Any]] = Field(
        description="What each runbook did with it (until: when a wait or hold ends; "
        "fallback: true for the fallback runbook's)."
    )


class InvalidQuery(SQLModel):
    """The app's 422 (runbookd.server.app): the first problem in words, then every problem."""

    detail: str = Field(description="PARAMETER: what is wrong, e.g. query.match: ...")
    errors: list[dict[str, Any]]


class AlertList(SQLModel):
    alerts: list[AlertOutcome]
    complete: bool = Field(
        description="False when label matchers stopped at the scan limit before the range ended."
    )


def _matchers(text: str | None) -> list[Matcher]:
    if not text:
        return []
    try:
        return parse_matchers(text)
    except MatcherError as exc:
        raise RequestValidationError(
            [{"loc": ("query", "match"), "msg": str(exc), "type": "value_error", "input": text}]
        ) from None


def _public(row: Row[Any]) -> AlertOutcome:
    results = loads(row.results)
    summary = describe(
        {
            "outcome": row.outcome,
            "incident": row.incident_id,
            "runbook": row.runbook,
            "results": results,
        }
    )
    return AlertOutcome(
        id=row.id,
        at=_utc(row.at) or row.at,
        kind=row.kind,
        name=row.name,
        status=row.status,
        fingerprint=row.fingerprint,
        outcome=row.outcome,
        incident=row.incident_id,
        runbook=row.runbook,
        summary=summary,
        labels=loads(row.labels),
        results=results,
    )


def list_outcomes(
    service: Service,
    query: Select[Any],
    matchers: list[Matcher],
    limit: int,
) -> tuple[list[AlertOutcome], bool]:
    """The newest ``limit`` rows of ``query`` whose labels match (blocking: run in a thread)."""
    if not matchers:
        rows = read_rows(service, query.limit(limit))
        return [_public(r) for r in rows], True
    found: list[AlertOutcome] = []
    before: int | None = None
    scanned = 0
    while scanned < SCAN_MAX:
        page = query if before is None else query.where(t.alert_outcome.c.id < before)
        rows = read_rows(service, page.limit(_PAGE))
        for row in rows:
            if matches_all(matchers, loads(row.labels)):
                found.append(_public(row))
                if len(found) == limit:
                    return found, True
        scanned += len(rows)
        if len(rows) < _PAGE:
            return found, True
        before = rows[-1].id
    return found, False


def outcome_query(
    status: Sequence[str] | None = None,
    alertname: Sequence[str] | None = None,
    outcome: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[Any]:
    """The stored outcomes, newest first, filtered by what the database can filter."""
    c = t.alert_outcome.c
    query = select(t.alert_outcome).order_by(c.id.desc())
    if status:
        query = query.where(c.status.in_(status))
    if alertname:
        query = query.where(c.name.in_(alertname))
    if outcome:
        query = query.where(c.outcome.in_(outcome))
    if since:
        query = query.where(c.at >= since)
    if until:
        query = query.where(c.at < until)
    return query


def alerts_router(service: Service, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], dependencies=dependencies)

    @router.get(
        "",
        response_model=AlertList,
        summary="Received alerts and events with what each did, newest first",
        # A matcher is text the schema cannot judge: a bad one is this route's own 422.
        responses={
            **errors(),
            422: {"model": InvalidQuery, "description": "a filter is invalid; detail names it"},
        },
    )
    async def list_alerts(
        status: Annotated[list[Literal["firing", "resolved"]] | None, Query()] = None,
        alertname: Annotated[list[str] | None, Query(max_length=256)] = None,
        outcome: Annotated[list[Outcome] | None, Query()] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        match: Annotated[
            str | None,
            Query(max_length=4096, description='Alertmanager matchers: {severity=~"crit.*"}'),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AlertList:
        since, until = _utc_param("since", since), _utc_param("until", until)
        matchers = _matchers(match)
        query = outcome_query(status, alertname, outcome, since, until)
        found, complete = await asyncio.to_thread(list_outcomes, service, query, matchers, limit)
        return AlertList(alerts=found, complete=complete)

    return router
