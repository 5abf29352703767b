"""``/runbooks`` and ``/runbooks/{id}``: the pages an alerting rule's ``runbook_url`` can point at.

They show the running library (what the engine runs since the last reload), described by
``runbookd.api.runbook_detail`` exactly as ``GET /api/v1/runbooks/{id}`` answers.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Protocol

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from runbookd.api.runbook_detail import describe_runbook
from runbookd.api.runbooks import find_runbook, read_figures, runbook_rows, running_runbooks
from runbookd.engine.lang.durations import format_duration
from runbookd.service.core import Service


class PageMaker(Protocol):
    """What these routes need of ``runbookd.web.routes.Pages``."""

    def page(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse: ...

    def error(self, request: Request, status: int, message: str) -> HTMLResponse: ...


def _seconds_text(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(timedelta(seconds=round(seconds)))


def _plan_order(row: dict[str, Any]) -> tuple[tuple[int, ...], str]:
    # 2.1 before 10.1: sections are dotted numbers (the model's pattern guarantees it).
    return tuple(int(p) for p in row["section"].split(".")), row["id"]


def runbook_router(pages: PageMaker, service: Service) -> APIRouter:
    """Included by ``web_router``, whose dependencies (auth) apply to these routes too."""
    router = APIRouter()

    @router.get("/runbooks", response_class=HTMLResponse)
    async def runbook_list(request: Request) -> HTMLResponse:
        rows = sorted(runbook_rows(service), key=_plan_order)
        return pages.page(request, "runbooks.html.j2", runbooks=rows)

    @router.get("/runbooks/{runbook_id}", response_class=HTMLResponse)
    async def runbook_page(request: Request, runbook_id: str) -> HTMLResponse:
        found = find_runbook(service, runbook_id)
        if found is None:
            return pages.error(request, 404, f"no runbook {runbook_id!r} in the running library")
        try:
            figures = await asyncio.to_thread(read_figures, service, runbook_id)
        except HTTPException as exc:
            return pages.error(request, exc.status_code, str(exc.detail))
        return pages.page(
            request,
            "runbook.html.j2",
            rb={
                **describe_runbook(found.runbook, str(found.file), running_runbooks(service)),
                **figures,
            },
            mtta=_seconds_text(figures["mtta_s"]),
            mttr=_seconds_text(figures["mttr_s"]),
        )

    return router
