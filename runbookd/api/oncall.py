"""On-call schedules: who is on call (now, next, 14 days), iCalendar export, overrides.

Adding or removing an override needs ``admin``; each is a journal entry (kind ``oncall``) with
its audit record, settled by the engine like every other audited action.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.params import Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from runbookd.api.applying import submit_applied
from runbookd.api.principals import require_role
from runbookd.api.problems import errors
from runbookd.auth.audit import AuditRecord
from runbookd.auth.roles import Principal, Role
from runbookd.oncall.ical import calendar
from runbookd.oncall.resolve import Resolver
from runbookd.oncall.views import summary
from runbookd.service.audit import journaled, record
from runbookd.service.core import Service
from runbookd.store.writer import StoreUnavailable

Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]


class OverrideCreate(BaseModel):
    """Who covers, from when to when; a time without an offset is in the schedule's zone."""

    model_config = ConfigDict(extra="forbid")
    person: str = Field(min_length=1)
    start: datetime
    end: datetime
    reason: str | None = Field(None, max_length=500)
    by: str | None = Field(None, max_length=200, description="Who made the override.")


def _at(at: datetime | None, days: int) -> datetime:
    """``at`` (naive = UTC) or now; a 422 naming ``at`` when the window leaves the calendar."""
    moment = datetime.now(UTC) if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC) + timedelta(days=days + 1)
        moment.astimezone(UTC) - timedelta(days=1)
    except OverflowError:
        raise HTTPException(
            422, f"query.at: {moment.isoformat()} is outside the supported range"
        ) from None
    return moment


def _by(who: Principal, claimed: str | None) -> str | None:
    """Who the override is by: a known user is who they are; a shared credential may claim."""
    return who.name if who.named else claimed


def oncall_router(service: Service, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/oncall", tags=["oncall"], dependencies=dependencies)

    def resolver(schedule_id: str) -> Resolver:
        found = service.oncall.directory.resolver(schedule_id)
        if found is None:
            known = ", ".join(sorted(service.oncall.directory.resolvers())) or "none"
            raise HTTPException(404, f"schedule: no schedule {schedule_id!r}; schedules: {known}")
        return found

    @router.get("", summary="Who is on call now and next, per schedule", responses=errors(404))
    def listing(
        at: Annotated[datetime | None, Query(description="Instead of now (ISO 8601).")] = None,
        schedule: Annotated[str | None, Query(description="Only this schedule.")] = None,
        days: Annotated[int, Query(ge=1, le=90)] = 14,
    ) -> dict[str, Any]:
        moment = _at(at, days)
        ids = [schedule] if schedule else sorted(service.oncall.directory.resolvers())
        return {
            "at": moment.isoformat(),
            "schedules": [summary(resolver(i), moment, days=days) for i in ids],
        }

    @router.get(
        "/{schedule_id}/calendar.ics",
        summary="The schedule's shifts as iCalendar (RFC 5545)",
        response_class=Response,
        responses={200: {"content": {"text/calendar": {}}}, **errors(404)},
    )
    def ics(
        schedule_id: str,
        days: Annotated[int, Query(ge=1, le=365)] = 90,
        at: Annotated[datetime | None, Query(description="Start (default: now).")] = None,
    ) -> Response:
        r = resolver(schedule_id)
        moment = _at(at, days)
        text = calendar(
            schedule_id, r.shifts(moment, moment + timedelta(days=days)), r.people, stamp=moment
        )
        return Response(text, media_type="text/calendar; charset=utf-8")

    async def _journal(payload: dict[str, Any], audit: AuditRecord) -> None:
        at = datetime.now(UTC)
        applied = await submit_applied(service, journaled("oncall", payload, audit, at))
        if applied.error is not None:
            raise HTTPException(409, applied.error)
        # The engine thread applied it where it runs; a replica without an engine answers
        # reads too, so apply it here as well (idempotent, same instant as the journal's).
        service.oncall.apply(payload, at)

    @router.post(
        "/{schedule_id}/overrides",
        status_code=201,
        summary="Add an override",
        responses=errors(404),
    )
    async def add(schedule_id: str, body: OverrideCreate, who: Admin) -> dict[str, Any]:
        resolver(schedule_id)
        # The reason is shown on /oncall and in the audit log: no configured secret with it.
        reason = service.redactor.clean_optional(body.reason)
        try:
            payload = service.oncall.add_payload(
                schedule_id, body.person, body.start, body.end, reason, _by(who, body.by)
            )
        except ValueError as exc:
            raise HTTPException(422, f"body.{exc}") from None
        except OverflowError:
            raise HTTPException(422, "body.start: outside the supported range") from None
        span = f"{payload['person']} from {payload['start']} to {payload['end']}"
        audit = AuditRecord.of(
            who,
            "override",
            "schedule",
            f"{schedule_id}/{payload['id']}",
            by=body.by,
            detail=f"{span}: {reason}" if reason else span,
        )
        await _journal(payload, audit)
        return payload

    @router.delete(
        "/{schedule_id}/overrides/{override_id}",
        summary="Remove an override",
        responses=errors(404),
    )
    async def remove(
        schedule_id: str, override_id: str, who: Admin, by: str | None = None
    ) -> dict[str, Any]:
        resolver(schedule_id)
        target = f"{schedule_id}/{override_id}"
        audit = AuditRecord.of(who, "override_remove", "schedule", target, by=by)
        try:
            payload = service.oncall.remove_payload(schedule_id, override_id, _by(who, by))
        except ValueError as exc:
            try:
                await record(service, audit.settled("refused", str(exc)))
            except StoreUnavailable as down:
                raise HTTPException(503, str(down)) from None
            raise HTTPException(404, str(exc)) from None
        await _journal(payload, audit)
        return payload

    return router
