"""Post-mortems: the computed summary of an incident, its follow-up items and lessons.

``GET /api/v1/incidents/{id}/postmortem?format=md|html|json``. For an incident that is not
resolved yet the answer is 200 with a draft: ``"final": false`` in JSON and a "DRAFT" banner in
Markdown and HTML (a manager may read how an incident is going; 409 would hide that).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.params import Depends
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlmodel import Field, SQLModel

from runbookd.api.problems import errors
from runbookd.postmortem import edits
from runbookd.postmortem.compute import aware
from runbookd.postmortem.load import NotFound, load_summary_and_runbook
from runbookd.postmortem.model import FollowUp, FollowUpStatus, Lessons, Summary
from runbookd.postmortem.render import render
from runbookd.service.core import Service

#: Answers every route here may give besides its success (documented for OpenAPI clients).
ERRORS = errors(404)


class FollowUpCreate(SQLModel):
    title: str = Field(min_length=1, max_length=500)
    owner: str | None = Field(None, min_length=1, max_length=256)
    due: date | None = None
    status: FollowUpStatus = "open"
    by: str = Field(min_length=1, max_length=256, description="Who adds it.")


class FollowUpUpdate(SQLModel):
    """Only the fields given change; ``owner: null`` or ``due: null`` clears them.

    ``title`` and ``status`` may be left out but not set to null: their default is not
    validated (so "absent" is None here), while a null in the body fails validation.
    """

    title: str = Field(None, min_length=1, max_length=500)  # absent: None
    owner: str | None = Field(None, min_length=1, max_length=256)
    due: date | None = None
    status: FollowUpStatus = Field(None)  # absent: None
    by: str = Field(min_length=1, max_length=256, description="Who changes it.")


class LessonsBody(SQLModel):
    text: str = Field(min_length=1, max_length=50_000)
    by: str = Field(min_length=1, max_length=256)


def _follow_up(row: dict[str, Any]) -> FollowUp:
    return FollowUp(
        id=int(row["id"]),
        title=row["title"],
        owner=row["owner"],
        due=row["due_date"],
        status="done" if row["status"] == "done" else "open",
        created=aware(row["created_at"]),
        created_by=row["created_by"],
        updated=aware(row["updated_at"]),
        updated_by=row["updated_by"],
    )


def postmortem_router(service: Service, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/incidents", tags=["post-mortems"], dependencies=dependencies)

    async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except HTTPException:
            raise
        except Exception as exc:  # the store is down or refused: say so, never leak details
            raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None

    @router.get(
        "/{incident_id}/postmortem",
        response_model=Summary,
        summary="The post-mortem (a draft while the incident is open)",
        responses={200: {"content": {"text/markdown": {}, "text/html": {}}}, **ERRORS},
    )
    async def postmortem(
        incident_id: str,
        format: Annotated[
            Literal["md", "html", "json"], Query()
        ] = "md",  # the API's parameter name
    ) -> Any:
        summary, runbook = await call(load_summary_and_runbook, service.db, incident_id)
        if format == "json":
            return summary
        text = await asyncio.to_thread(render, summary, format, runbook)
        if format == "html":
            return HTMLResponse(text)
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")

    @router.post(
        "/{incident_id}/follow-ups",
        response_model=FollowUp,
        status_code=201,
        summary="Add a follow-up item",
        responses=ERRORS,
    )
    async def add_follow_up(incident_id: str, body: FollowUpCreate) -> FollowUp:
        row = await call(
            edits.add_follow_up,
            service.db,
            incident_id,
            title=body.title,
            owner=body.owner,
            due=body.due,
            status=body.status,
            by=body.by,
            now=datetime.now(UTC),
        )
        return _follow_up(row)

    @router.patch(
        "/{incident_id}/follow-ups/{follow_up_id}",
        response_model=FollowUp,
        summary="Change a follow-up item",
        responses=ERRORS,
    )
    async def change_follow_up(
        incident_id: str, follow_up_id: int, body: FollowUpUpdate
    ) -> FollowUp:
        given = body.model_fields_set - {"by"}
        changes = {("due_date" if k == "due" else k): getattr(body, k) for k in given}
        row = await call(
            edits.update_follow_up,
            service.db,
            incident_id,
            follow_up_id,
            changes,
            by=body.by,
            now=datetime.now(UTC),
        )
        return _follow_up(row)

    @router.put(
        "/{incident_id}/lessons",
        response_model=Lessons,
        summary="Write the lessons",
        responses=ERRORS,
    )
    async def put_lessons(incident_id: str, body: LessonsBody) -> Lessons:
        now = datetime.now(UTC)
        await call(edits.set_lessons, service.db, incident_id, text=body.text, by=body.by, now=now)
        return Lessons(text=body.text, updated=now, updated_by=body.by)

    return router
