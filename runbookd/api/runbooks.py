"""The runbook library as the service runs it, and hot reload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from sqlmodel import SQLModel

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
        items = service.library.loaded if service.library else []
        return RunbookList(
            runbooks=[
                RunbookPublic(
                    id=i.runbook.id,
                    title=i.runbook.title,
                    version=i.runbook.version,
                    section=i.runbook.section,
                    team=i.runbook.team,
                    severity=i.runbook.classification.effective_severity.value,
                    file=str(i.file),
                    triggers=len(i.runbook.detection.triggers),
                    levels=len(i.runbook.escalation.levels) if i.runbook.escalation else 0,
                    steps=len(i.runbook.handling.steps),
                )
                for i in items
            ]
        )

    @router.get("", response_model=RunbookList, summary="The runbooks the engine runs")
    async def list_runbooks() -> RunbookList:
        return listing()

    @router.post(
        "/reload",
        summary="Validate the runbooks on disk, then swap; keep the running ones on any error",
        responses={422: {"description": "errors, one `PATH:LINE:COL: message` per line"}},
    )
    async def reload_library() -> JSONResponse:
        if reload is not None:
            errors = await reload()
        else:
            errors = [str(e) for e in await service.reload()]
        if errors:
            return JSONResponse(
                {"detail": "runbooks not reloaded", "errors": errors},
                status_code=422,
            )
        return JSONResponse(listing().model_dump(), status_code=200)

    return router
