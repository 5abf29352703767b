"""Post-mortems: the computed summary of an incident, its follow-up items and lessons.

``GET /api/v1/incidents/{id}/postmortem?format=md|html|json``. For an incident that is not
resolved yet the answer is 200 with a draft: ``"final": false`` in JSON and a "DRAFT" banner in
Markdown and HTML (a manager may read how an incident is going; 409 would hide that).

Adding, changing and deleting follow-up items needs ``responder`` (403 naming the role below
it); each edit is stored with its audit record in one transaction (``postmortem.edits``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.params import Depends
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlmodel import Field, SQLModel

from runbookd.api.principals import require_role
from runbookd.api.problems import errors
from runbookd.auth.audit import AuditRecord
from runbookd.auth.roles import Principal, Role
from runbookd.postmortem import edits
from runbookd.postmortem.compute import aware
from runbookd.postmortem.load import NotFound, load_summary_and_runbook
from runbookd.postmortem.model import FollowUp, FollowUpStatus, Lessons, Summary
from runbookd.postmortem.render import render
from runbookd.service.core import Service

#: Answers every route here may give besides its success (documented for OpenAPI clients).
ERRORS = errors(404)
#: Who may edit follow-up items: 401 without credentials, 403 below responder.
Responder = Annotated[Principal, Depends(require_role(Role.RESPONDER))]


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


def _audit(who: Principal, action: str, incident_id: str, by: str | None) -> AuditRecord:
    """The record of a follow-up edit; ``postmortem.edits`` fills in the item and what changed."""
    return AuditRecord.of(who, action, "follow_up", incident_id, by=by, incident=incident_id)


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
    async def add_follow_up(incident_id: str, body: FollowUpCreate, who: Responder) -> FollowUp:
        author = who.claiming(body.by)
        row = await call(
            edits.add_follow_up,
            service.db,
            incident_id,
            title=service.redactor.clean(body.title),
            owner=body.owner,
            due=body.due,
            status=body.status,
            by=author.name,
            now=datetime.now(UTC),
            audit=_audit(who, "follow_up_add", incident_id, body.by),
        )
        return _follow_up(row)

    @router.patch(
        "/{incident_id}/follow-ups/{follow_up_id}",
        response_model=FollowUp,
        summary="Change a follow-up item",
        responses=ERRORS,
    )
    async def change_follow_up(
        incident_id: str, follow_up_id: int, body: FollowUpUpdate, who: Responder
    ) -> FollowUp:
        given = body.model_fields_set - {"by"}
        changes = {("due_date" if k == "due" else k): getattr(body, k) for k in given}
        if isinstance(changes.get("title"), str):
            changes["title"] = service.redactor.clean(changes["title"])
        row = await call(
            edits.update_follow_up,
            service.db,
            incident_id,
            follow_up_id,
            changes,
            by=who.claiming(body.by).name,
            now=datetime.now(UTC),
            audit=_audit(who, "follow_up_update", incident_id, body.by),
        )
        return _follow_up(row)

    @router.delete(
        "/{incident_id}/follow-ups/{follow_up_id}",
        status_code=204,
        summary="Delete a follow-up item",
        responses=ERRORS,
    )
    async def delete_follow_up(
        incident_id: str,
        follow_up_id: int,
        who: Responder,
        by: Annotated[str | None, Query(max_length=256, description="Who deletes it.")] = None,
    ) -> Response:
        await call(
            edits.delete_follow_up,
            service.db,
            incident_id,
            follow_up_id,
            by=who.claiming(by).name,
            now=datetime.now(UTC),
            audit=_audit(who, "follow_up_delete", incident_id, by),
        )
        return Response(status_code=204)

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
