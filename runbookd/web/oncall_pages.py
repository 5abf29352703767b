"""``/oncall``: who is on call now and next, and the next 14 days, per schedule.

The same data as ``GET /api/v1/oncall`` (``runbookd.oncall.views.summary``), in the schedule's
own time zone, with a link to each schedule's iCalendar export.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from runbookd.oncall.views import summary
from runbookd.service.core import Service
from runbookd.web.runbook_pages import PageMaker


def _local(text: str | None, zone: str) -> str:
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M")


def oncall_router(pages: PageMaker, service: Service, now: Callable[[], datetime]) -> APIRouter:
    """Included by ``web_router``, whose dependencies (auth) apply to this route too."""
    router = APIRouter()

    @router.get("/oncall", response_class=HTMLResponse)
    async def oncall_page(request: Request) -> HTMLResponse:
        at = now()
        directory = service.oncall.directory
        schedules: list[dict[str, Any]] = [
            summary(r, at) for _, r in sorted(directory.resolvers().items())
        ]
        return pages.page(request, "oncall.html.j2", schedules=schedules, local=_local)

    return router
