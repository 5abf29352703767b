"""On-call schedules: who is on call (now, next, 14 days), iCalendar export, overrides."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.params import Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from runbookd.api.principals import require_role
from runbookd.api.problems import errors
from runbookd.auth.roles import Role
from runbookd.oncall.ical import calendar
from runbookd.oncall.resolve import Resolver
from runbookd.oncall.views import summary
from runbookd.service.core import Service
from runbookd.store.writer import EntryJob, StoreUnavailable

APPLY_TIMEOUT_S = 10.0


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

    async def _journal(payload: dict[str, Any]) -> None:
        at = datetime.now(UTC)
        job = EntryJob(kind="oncall", payload=payload, at=at)
        try:
            seq = await asyncio.wrap_future(service.writer.submit(job))
        except StoreUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
        try:
            await asyncio.wait_for(
                asyncio.wrap_future(service.worker.wait_applied(int(seq))), APPLY_TIMEOUT_S
            )
        except TimeoutError:
            raise HTTPException(503, "stored, but the engine has not applied it yet") from None
        # The engine thread applied it where it runs; a replica without an engine answers
        # reads too, so apply it here as well (idempotent, same instant as the journal's).
        service.oncall.apply(payload, at)

    @router.post(
        "/{schedule_id}/overrides",
        status_code=201,
        summary="Add an override",
        responses=errors(404),
        dependencies=[Depends(require_role(Role.ADMIN))],
    )
    async def add(schedule_id: str, body: OverrideCreate) -> dict[str, Any]:
        resolver(schedule_id)
        try:
            payload = service.oncall.add_payload(
                schedule_id, body.person, body.start, body.end, body.reason, body.by
            )
        except ValueError as exc:
            raise HTTPException(422, f"body.{exc}") from None
        except OverflowError:
            raise HTTPException(422, "body.start: outside the supported range") from None
        await _journal(payload)
        return payload

    @router.delete(
        "/{schedule_id}/overrides/{override_id}",
        summary="Remove an override",
        responses=errors(404),
        dependencies=[Depends(require_role(Role.ADMIN))],
    )
    async def remove(schedule_id: str, override_id: str, by: str | None = None) -> dict[str, Any]:
        resolver(schedule_id)
        try:
            payload = service.oncall.remove_payload(schedule_id, override_id, by)
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from None
        await _journal(payload)
        return payload

    return router
