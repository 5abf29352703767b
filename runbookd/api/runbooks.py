"""The runbook library as the service runs it, and hot reload."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from runbookd.api.auditing import reloaded
from runbookd.api.principals import require_role
from runbookd.api.runbook_detail import describe_runbook, runbook_figures
from runbookd.auth.roles import Principal, Role
from runbookd.engine.lang.loader import LoadedRunbook
from runbookd.engine.lang.model import Runbook
from runbookd.service.core import Service


class RunbookPublic(SQLModel):
    id: str
    title: str
    version: int
    section: str
    team: str
    severity: str
    file: str
    triggers: int
    levels: int
    steps: int


class RunbookList(SQLModel):
    runbooks: list[RunbookPublic]


def runbook_rows(service: Service) -> list[dict[str, Any]]:
    """One summary per running runbook (the list API and the ``/runbooks`` page)."""
    items = service.library.loaded if service.library else []
    return [
        {
            "id": i.runbook.id,
            "title": i.runbook.title,
            "version": i.runbook.version,
            "section": i.runbook.section,
            "team": i.runbook.team,
            "severity": i.runbook.classification.effective_severity.value,
            "file": str(i.file),
            "triggers": len(i.runbook.detection.triggers),
            "levels": len(i.runbook.escalation.levels) if i.runbook.escalation else 0,
            "steps": len(i.runbook.handling.steps),
        }
        for i in items
    ]


def running_runbooks(service: Service) -> list[Runbook]:
    """The running library's runbooks (to say which ones a runbook inhibits)."""
    return [i.runbook for i in service.library.loaded] if service.library else []


def find_runbook(service: Service, runbook_id: str) -> LoadedRunbook | None:
    """The running library's runbook with this id (the fallback runbook included)."""
    items = service.library.loaded if service.library else []
    return next((i for i in items if i.runbook.id == runbook_id), None)


def read_figures(service: Service, runbook_id: str) -> dict[str, Any]:
    try:
        with service.db.connect() as conn:
            return runbook_figures(conn, runbook_id)
    except SQLAlchemyError as exc:
        raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None


def runbooks_router(
    service: Service,
    dependencies: list[Depends],
    reload: Callable[[], Awaitable[list[str]]] | None = None,
) -> APIRouter:
    """``reload``: the app's whole reload (config and runbooks), so that this route and
    ``POST /-/reload`` do the same and both count in the reload metrics; by default the
    runbooks only."""
    router = APIRouter(prefix="/api/v1/runbooks", tags=["runbooks"], dependencies=dependencies)

    def listing() -> RunbookList:
        return RunbookList(runbooks=[RunbookPublic(**row) for row in runbook_rows(service)])

    @router.get("", response_model=RunbookList, summary="The runbooks the engine runs")
    async def list_runbooks() -> RunbookList:
        return listing()

    @router.get(
        "/{runbook_id}",
        summary="One runbook: detection, escalation, steps, its YAML, recent incidents, MTTA/MTTR",
        responses={404: {"description": "no such runbook"}, 503: {"description": "store down"}},
    )
    async def get_runbook(runbook_id: str) -> dict[str, Any]:
        found = find_runbook(service, runbook_id)
        if found is None:
            raise HTTPException(404, f"no runbook {runbook_id!r} in the running library")
        return {
            **describe_runbook(found.runbook, str(found.file), running_runbooks(service)),
            **await asyncio.to_thread(read_figures, service, runbook_id),
        }

    @router.post(
        "/reload",
        summary="Validate the runbooks on disk, then swap; keep the running ones on any error",
        responses={
            403: {"description": "needs the admin role, as `POST /-/reload` does"},
            422: {"description": "errors, one `PATH:LINE:COL: message` per line"},
        },
    )
    async def reload_library(
        request: Request, who: Annotated[Principal, Depends(require_role(Role.ADMIN))]
    ) -> JSONResponse:
        if reload is not None:
            errors = await reload()
        else:
            errors = [str(e) for e in await service.reload()]
        running = len(service.library.loaded) if service.library else 0
        await reloaded(request, who, errors, None if errors else running)
        if errors:
            return JSONResponse(
                {"detail": "runbooks not reloaded", "errors": errors},
                status_code=422,
            )
        return JSONResponse(listing().model_dump(), status_code=200)

    return router
