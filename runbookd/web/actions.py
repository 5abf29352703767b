"""The pages' forms: acknowledge, resolve, add a note, approve or deny a waiting step.

Each form goes through the same function as the API (``apply_action``, ``decide_approval``), so
a form and a ``curl`` are refused or accepted alike, and through the same gates: responder for
the incident's actions, the step's role and team for a decision (``runbookd.web.gates``). A
known user acts under their own name with ``via=web``; only an unnamed principal (the shared
credential, or nothing configured) says who they are in the form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runbookd.api.approvals import decide_approval, waiting_approval
from runbookd.api.incidents import apply_action
from runbookd.auth.roles import Principal, Role
from runbookd.service.core import Service
from runbookd.web.gates import current, require, require_decider

NAME_COOKIE = "runbookd_name"
IncidentPage = Callable[..., Awaitable[HTMLResponse]]
#: the answers that get the error page rather than the incident page with a message (an
#: approval that is no longer waiting is a 404 shown on its incident's page)
_ERROR_PAGE = (403, 404, 413, 415)
_DECIDE_ERROR_PAGE = (403, 413, 415)


class FormPages(Protocol):
    """What these routes need of ``runbookd.web.routes.Pages``."""

    async def form(self, request: Request) -> dict[str, str]: ...

    def who(self, request: Request, data: dict[str, str]) -> Principal: ...

    def error(self, request: Request, status: int, message: str) -> HTMLResponse: ...


def actions_router(pages: FormPages, service: Service, incident_page: IncidentPage) -> APIRouter:
    """Included by ``web_router``, whose dependencies (the login) apply to these routes too."""
    router = APIRouter()

    async def act(request: Request, incident_id: str, action: str) -> Response:
        try:
            data = await pages.form(request)
            await require(request, current(request), Role.RESPONDER)
            who = pages.who(request, data)
            payload: dict[str, Any] = {"by": who.name, "principal": who.to_json()}
            if action == "ack":
                payload["action"] = "ack"
            elif action == "resolve":
                payload.update(
                    action="resolve", reason=(data.get("reason") or "").strip()[:2000] or None
                )
            else:
                text = (data.get("text") or "").strip()
                if not text or len(text) > 10_000:
                    raise HTTPException(422, "text: write a note of 1 to 10,000 characters")
                payload.update(action="note", text=text)
            await apply_action(service, incident_id, payload)
        except HTTPException as exc:
            if exc.status_code in _ERROR_PAGE:
                return pages.error(request, exc.status_code, str(exc.detail))
            return await incident_page(
                request, incident_id, status=exc.status_code, error=str(exc.detail)
            )
        response = RedirectResponse(f"/incidents/{incident_id}?done={action}", status_code=303)
        _remember(response, request, who)
        return response

    @router.post("/incidents/{incident_id}/ack")
    async def ack(request: Request, incident_id: str) -> Response:
        return await act(request, incident_id, "ack")

    @router.post("/incidents/{incident_id}/resolve")
    async def resolve(request: Request, incident_id: str) -> Response:
        return await act(request, incident_id, "resolve")

    @router.post("/incidents/{incident_id}/notes")
    async def note(request: Request, incident_id: str) -> Response:
        return await act(request, incident_id, "notes")

    @router.post("/approvals/{approval_id}")
    async def decide(request: Request, approval_id: str) -> Response:
        incident_id = approval_id.partition(":")[0]
        try:
            data = await pages.form(request)
            waiting = waiting_approval(service, approval_id)
            await require_decider(request, current(request), waiting)
            who = pages.who(request, data)
            decision = data.get("decision")
            if decision not in ("approve", "deny"):
                raise HTTPException(422, "decision: approve or deny")
            result = await decide_approval(
                service, approval_id, decision == "approve", who.name, who
            )
        except HTTPException as exc:
            if exc.status_code in _DECIDE_ERROR_PAGE:
                return pages.error(request, exc.status_code, str(exc.detail))
            return await incident_page(
                request, incident_id, status=exc.status_code, error=str(exc.detail)
            )
        response = RedirectResponse(
            f"/incidents/{incident_id}?{urlencode({'decided': result['decision']})}",
            status_code=303,
        )
        _remember(response, request, who)
        return response

    return router


def _remember(response: Response, request: Request, who: Principal) -> None:
    # For an unnamed principal, prefill the name next time; a known user's name is used anyway.
    if who.kind in ("anonymous", "token"):
        response.set_cookie(
            NAME_COOKIE,
            who.name,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
