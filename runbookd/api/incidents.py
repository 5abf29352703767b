"""Incidents for people: list, show with timeline, acknowledge, resolve, add a note.

Reads come straight from the incident and timeline tables. Actions are journal entries like any
other engine input: the route stores the action, waits until the engine has applied it, and
answers with the incident as it is then (read-your-writes), or 409 when the engine refused it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends
from sqlalchemy import Row, select
from sqlmodel import Field, SQLModel

from runbookd.api.applying import submit_applied
from runbookd.api.principals import require_role
from runbookd.api.problems import errors
from runbookd.auth.audit import AuditRecord
from runbookd.auth.roles import Principal, Role
from runbookd.engine.keys import missing_labels
from runbookd.engine.lang.model import ID_PATTERN
from runbookd.service.audit import journaled, record
from runbookd.service.core import Service
from runbookd.store import tables as t
from runbookd.store.codec import loads
from runbookd.store.writer import StoreUnavailable

Status = str
#: The lifecycle values a list can be filtered by; anything else is a 422 naming ``status``.
PublicStatus = Literal["triggered", "acknowledged", "mitigated", "resolved", "closed"]
Severity = Literal["critical", "high", "medium", "low"]


def _utc_param(name: str, moment: datetime | None) -> datetime | None:
    """A time filter in UTC, or a 422 naming the parameter.

    The database gets UTC only: PostgreSQL refuses offsets past +-15:59 that ISO 8601 allows,
    and a naive time is read as UTC, as everywhere else in the API.
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00: past the end of the calendar in UTC
        raise RequestValidationError(
            [
                {
                    "loc": ("query", name),
                    "msg": f"{moment.isoformat()} is outside the supported range",
                    "type": "value_error",
                    "input": moment.isoformat(),
                }
            ]
        ) from None


class IncidentPublic(SQLModel):
    id: str
    runbook: str
    runbook_version: int
    section: str
    title: str
    severity: str
    status: str = Field(description="triggered, acknowledged, mitigated, resolved or closed")
    key: str
    labels: dict[str, str]
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_at: datetime | None
    alerts: int
    detail: dict[str, Any] = Field(default_factory=dict)
    missing_labels: list[str] = Field(
        default_factory=list,
        description="group_by labels the opening alert did not carry: every alert without them "
        "shares this incident's key.",
    )


class TimelineEntry(SQLModel):
    at: datetime
    kind: str
    summary: str
    data: dict[str, Any]


class IncidentDetail(IncidentPublic):
    timeline: list[TimelineEntry]


class IncidentList(SQLModel):
    incidents: list[IncidentPublic]


class AckBody(SQLModel):
    by: str = Field(min_length=1, max_length=256)


class ResolveBody(SQLModel):
    by: str = Field(min_length=1, max_length=256)
    reason: str | None = Field(None, max_length=2000)


class NoteBody(SQLModel):
    by: str = Field(min_length=1, max_length=256)
    text: str = Field(min_length=1, max_length=10_000)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _public(row: Row[Any]) -> IncidentPublic:
    data = dict(row._mapping)
    for name in ("opened_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at"):
        data[name] = _utc(data[name])
    data.pop("updated_at", None)
    return IncidentPublic(**data, missing_labels=missing_labels(data["key"]))


def read_rows(service: Service, query: Any) -> list[Row[Any]]:
    """Run a read; a store that does not answer is a 503 (blocking: call it in a thread)."""
    try:
        with service.db.connect() as conn:
            return list(conn.execute(query).all())
    except Exception as exc:
        raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None


def read_incident(service: Service, incident_id: str) -> IncidentPublic:
    """One incident, or 404 (blocking: call it in a thread)."""
    rows = read_rows(service, select(t.incident).where(t.incident.c.id == incident_id))
    if not rows:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return _public(rows[0])


#: Actions a resolved incident takes. The engine keeps resolved incidents in memory only for a
#: while (engine.timing.RETENTION); these carry the stored row, so it can act on one that has
#: left memory, and replay of the journal does the same.
_ON_SETTLED = ("note", "close", "reopen")


def stored_record(service: Service, current: IncidentPublic) -> dict[str, Any]:
    """The incident as stored, in the form ``Engine.revive`` reads (blocking: call in a thread).

    ``notified`` (the highest notification number used so far) and ``reopened`` (how often it
    was reopened) number the calls it makes next, so they get call ids of their own (the outbox
    runs each call id once).
    """
    if current.status not in ("resolved", "closed"):
        return {"runbook": current.runbook, "status": current.status}
    rows = read_rows(
        service,
        select(t.timeline.c.kind, t.timeline.c.data).where(
            t.timeline.c.incident_id == current.id, t.timeline.c.kind.in_(("notify", "reopen"))
        ),
    )
    numbers = [
        str(loads(r.data).get("call_id", "")).rpartition(":")[2] for r in rows if r.kind == "notify"
    ]
    return {
        **current.model_dump(mode="json"),
        "notified": max((int(n) for n in numbers if n.isdigit()), default=0),
        "reopened": sum(1 for r in rows if r.kind == "reopen"),
    }


#: The free text of an action, where configured secrets are taken out before it is stored.
_TEXTS = ("text", "reason")


def _audit_of(incident_id: str, payload: dict[str, Any]) -> AuditRecord:
    principal = Principal.from_json(payload.get("principal"))
    detail = str(payload.get("text") or payload.get("reason") or "")
    return AuditRecord.of(
        principal,
        payload["action"],
        "incident",
        incident_id,
        by=payload.get("by"),
        detail=detail,
        incident=incident_id,
    )


async def apply_action(
    service: Service, incident_id: str, payload: dict[str, Any]
) -> IncidentPublic:
    """Journal a person's action on an incident, with its audit record, and wait until the
    engine applied it.

    Shared by the API and the web pages' forms, so both refuse and answer alike: 404 unknown
    incident, 409 refused by the engine (or already resolved), 503 store or engine not answering.
    The principal is ``payload["principal"]`` (``Principal.to_json``), the API's or the page's
    login; without one the record names the ``by`` the payload claims.
    """
    redact = service.redactor.clean
    payload = {
        k: redact(v) if k in _TEXTS and isinstance(v, str) else v for k, v in payload.items()
    }
    current = await asyncio.to_thread(read_incident, service, incident_id)  # 404 before storing
    audit = _audit_of(incident_id, payload)
    if payload["action"] in ("ack", "resolve") and current.status in ("resolved", "closed"):
        why = f"incident {incident_id} is already {current.status}"
        await _record(service, audit.settled("refused", why))
        raise HTTPException(409, why)
    if payload["action"] in _ON_SETTLED:
        payload = {**payload, "stored": await asyncio.to_thread(stored_record, service, current)}
    job = journaled("action", {"incident": incident_id, **payload}, audit)
    applied = await submit_applied(service, job)
    if applied.error is not None:
        raise HTTPException(409, applied.error)
    return await asyncio.to_thread(read_incident, service, incident_id)


async def _record(service: Service, audit: AuditRecord) -> None:
    try:
        await record(service, audit)
    except StoreUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


#: The principal of an action on an incident: 401 without credentials, 403 below responder.
Responder = Annotated[Principal, Depends(require_role(Role.RESPONDER))]


def incidents_router(service: Service, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], dependencies=dependencies)

    def read(query: Any) -> list[Row[Any]]:
        return read_rows(service, query)

    def one(incident_id: str) -> IncidentPublic:
        return read_incident(service, incident_id)

    @router.get(
        "", response_model=IncidentList, summary="Incidents, newest first", responses=errors()
    )
    async def list_incidents(
        status: Annotated[list[PublicStatus] | None, Query()] = None,
        severity: Annotated[list[Severity] | None, Query()] = None,
        runbook: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> IncidentList:
        since, until = _utc_param("since", since), _utc_param("until", until)
        query = select(t.incident).order_by(t.incident.c.opened_at.desc()).limit(limit)
        if status:
            query = query.where(t.incident.c.status.in_(status))
        if severity:
            query = query.where(t.incident.c.severity.in_(severity))
        if runbook:
            query = query.where(t.incident.c.runbook == runbook)
        if since:
            query = query.where(t.incident.c.opened_at >= since)
        if until:
            query = query.where(t.incident.c.opened_at < until)
        rows = await asyncio.to_thread(read, query)
        return IncidentList(incidents=[_public(r) for r in rows])

    @router.get(
        "/{incident_id}",
        response_model=IncidentDetail,
        summary="One incident",
        responses=errors(404),
    )
    async def show(incident_id: str) -> IncidentDetail:
        incident = await asyncio.to_thread(one, incident_id)
        rows = await asyncio.to_thread(
            read,
            select(t.timeline.c.at, t.timeline.c.kind, t.timeline.c.summary, t.timeline.c.data)
            .where(t.timeline.c.incident_id == incident_id)
            .order_by(t.timeline.c.id),
        )
        timeline = [
            TimelineEntry(at=_utc(r.at) or r.at, kind=r.kind, summary=r.summary, data=loads(r.data))
            for r in rows
        ]
        return IncidentDetail(**incident.model_dump(), timeline=timeline)

    async def act(
        incident_id: str, payload: dict[str, Any], principal: Principal
    ) -> IncidentPublic:
        # A known user acts as who they are whatever ``by`` says; a shared credential's ``by``
        # is the best name there is (runbookd.api.principals).
        who = principal.claiming(payload["by"])
        payload = {**payload, "by": who.name, "principal": who.to_json()}
        return await apply_action(service, incident_id, payload)

    @router.post(
        "/{incident_id}/ack",
        response_model=IncidentPublic,
        summary="Acknowledge",
        responses=errors(404, 409),
    )
    async def ack(incident_id: str, body: AckBody, who: Responder) -> IncidentPublic:
        return await act(incident_id, {"action": "ack", "by": body.by}, who)

    @router.post(
        "/{incident_id}/resolve",
        response_model=IncidentPublic,
        summary="Resolve",
        responses=errors(404, 409),
    )
    async def resolve(incident_id: str, body: ResolveBody, who: Responder) -> IncidentPublic:
        return await act(
            incident_id, {"action": "resolve", "by": body.by, "reason": body.reason}, who
        )

    @router.post(
        "/{incident_id}/close",
        response_model=IncidentPublic,
        summary="Close a resolved incident",
        responses=errors(404, 409),
    )
    async def close(incident_id: str, body: AckBody, who: Responder) -> IncidentPublic:
        return await act(incident_id, {"action": "close", "by": body.by}, who)

    @router.post(
        "/{incident_id}/reopen",
        response_model=IncidentPublic,
        summary="Reopen",
        responses=errors(404, 409),
    )
    async def reopen(incident_id: str, body: ResolveBody, who: Responder) -> IncidentPublic:
        return await act(
            incident_id, {"action": "reopen", "by": body.by, "reason": body.reason}, who
        )

    @router.post(
        "/{incident_id}/notes",
        response_model=IncidentPublic,
        summary="Add a note",
        responses=errors(404, 409),
    )
    async def note(incident_id: str, body: NoteBody, who: Responder) -> IncidentPublic:
        return await act(incident_id, {"action": "note", "by": body.by, "text": body.text}, who)

    return router
