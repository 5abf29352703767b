"""``/audit``: the audit log for admins, with the filters of ``GET /api/v1/audit`` as a form.

The same parser and query as the API (``runbookd.api.audit_log``), so a filter means the same
in both and a bad one is named alike (here on a 400 page that keeps the form). Anyone below
``admin`` gets the 403 page naming the role, and the refusal is in the log like the API's.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from runbookd.api.audit_log import VIA_FILTER, AuditFilter, FilterError, parse_filter, read_audit
from runbookd.api.auditing import refused
from runbookd.api.principals import denied, principal_of
from runbookd.auth.audit import OUTCOMES
from runbookd.auth.roles import Role
from runbookd.service.core import Service
from runbookd.web.runbook_pages import PageMaker


def _form_value(params: dict[str, str], name: str) -> str:
    return params.get(name, "").strip()


def audit_router(pages: PageMaker, service: Service) -> APIRouter:
    """Included by ``web_router``, whose dependencies (auth) apply to this route too."""
    router = APIRouter()

    @router.get("/audit", response_class=HTMLResponse)
    async def audit_page(request: Request) -> HTMLResponse:
        principal = await principal_of(request)
        if not principal.may(Role.ADMIN):
            reason = denied(principal, Role.ADMIN)
            await refused(request, principal, reason)
            return pages.error(request, 403, reason)
        params = dict(request.query_params)
        form = {name: _form_value(params, name) for name in ("actor", "action", "target")}
        form |= {name: _form_value(params, name) for name in ("outcome", "via", "since", "until")}
        context: dict[str, Any] = {
            "form": form,
            "outcomes": OUTCOMES,
            "vias": VIA_FILTER,
            "role": str(principal.role),
        }
        try:
            chosen = parse_filter(params)
        except FilterError as exc:
            return pages.page(
                request,
                "audit.html.j2",
                status=400,
                error=str(exc),
                entries=[],
                older=None,
                **context,
            )
        try:
            found = await asyncio.to_thread(read_audit, service, chosen)
        except HTTPException as exc:
            return pages.error(request, exc.status_code, str(exc.detail))
        return pages.page(
            request,
            "audit.html.j2",
            error=None,
            entries=[_readable(e) for e in found["entries"]],
            older=_older(chosen, found["next"]),
            **context,
        )

    return router


def _readable(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "at": datetime.fromisoformat(entry["at"])}


def _older(chosen: AuditFilter, cursor: str | None) -> str | None:
    """The link to the next page: the same filters, before the last row shown."""
    if cursor is None:
        return None
    return "/audit?" + urlencode({**chosen.given(), "before": cursor})
