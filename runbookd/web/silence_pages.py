"""``/silences``: the silences (active, pending, recently expired), the maintenance windows from
config (read-only), a form to add a silence and an Expire button on each one still in force.

The forms go through the API's own functions (``create_silence``, ``expire_silence``), so a
page and ``curl`` are accepted or refused alike: the ``admin`` role, the same 400 naming the
field, the same journal entry and audit record. Each form carries the CSRF token and answers
with a redirect back to the page (post/redirect/get), or the page with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runbookd.api.principals import require_role
from runbookd.api.silences import MatcherObject, SilenceCreate, create_silence, expire_silence
from runbookd.auth.roles import Role
from runbookd.connectors.durations import HINT, parse_duration
from runbookd.engine.matchers import MatcherError, parse_matchers
from runbookd.engine.windows import SECTION, windows_from_config
from runbookd.service.core import Service

#: How long an expired silence stays on the page (the API lists every one).
RECENT = timedelta(days=7)
_DONE = {"added": "silence added", "expired": "silence expired"}
_SPEC_FIELDS = ("weekdays", "days_of_month", "months", "years")


class FormPages(Protocol):
    """What these routes need of ``runbookd.web.routes.Pages``."""

    now: Callable[[], datetime]

    def page(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse: ...

    def error(self, request: Request, status: int, message: str) -> HTMLResponse: ...

    async def form(self, request: Request) -> dict[str, str]: ...


def silence_router(pages: FormPages, service: Service) -> APIRouter:
    """Included by ``web_router``, whose dependencies (auth) apply to these routes too."""
    router = APIRouter()
    admin = require_role(Role.ADMIN)

    def show(
        request: Request,
        *,
        status: int = 200,
        error: str = "",
        form: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        now = pages.now()
        rows = [_row(r) for r in service.silences.listing(now)]
        recent = [r for r in rows if r["state"] != "expired" or r["ends"] >= now - RECENT]
        return pages.page(
            request,
            "silences.html.j2",
            status=status,
            silences=recent,
            windows=_windows(service, now),
            error=error,
            form=form or {},
            message=_DONE.get(request.query_params.get("done", ""), ""),
        )

    @router.get("/silences", response_class=HTMLResponse)
    async def silences(request: Request) -> HTMLResponse:
        return show(request)

    @router.post("/silences")
    async def add(request: Request) -> Response:
        data: dict[str, str] = {}
        try:
            data = await pages.form(request)
            who = await admin(request)
            body = _body(data, pages.now(), named=who.named)
            await create_silence(service, body, who)
        except HTTPException as exc:
            if exc.status_code in (401, 403, 413, 415):
                return pages.error(request, exc.status_code, str(exc.detail))
            return show(request, status=exc.status_code, error=str(exc.detail), form=data)
        return RedirectResponse("/silences?done=added", status_code=303)

    @router.post("/silences/{silence_id}/expire")
    async def expire(request: Request, silence_id: str) -> Response:
        try:
            await pages.form(request)
            who = await admin(request)
            await expire_silence(service, silence_id, who)
        except HTTPException as exc:
            if exc.status_code in (401, 403, 413, 415):
                return pages.error(request, exc.status_code, str(exc.detail))
            return show(request, status=exc.status_code, error=str(exc.detail))
        return RedirectResponse("/silences?done=expired", status_code=303)

    return router


def _body(data: Mapping[str, str], now: datetime, *, named: bool) -> SilenceCreate:
    """The form as the API's request body; 400 naming the form's field."""
    text = data.get("matchers", "").strip()
    if not text:
        raise HTTPException(400, 'matchers: at least one matcher is needed, e.g. alertname="X"')
    try:
        matchers: list[str | MatcherObject] = [str(m) for m in parse_matchers(text)]
    except MatcherError as exc:
        raise HTTPException(400, f"matchers: {exc}") from None
    end_text, duration = data.get("end", "").strip(), data.get("duration", "").strip()
    if end_text:
        try:
            end = datetime.fromisoformat(end_text)  # no offset: UTC, as in the API
        except ValueError:
            raise HTTPException(400, f"end: {end_text!r} is not a date and time") from None
    else:
        try:
            end = now + parse_duration(duration or "1h")
        except ValueError:
            raise HTTPException(400, f"duration: {duration!r} is not a duration; {HINT}") from None
    comment = data.get("comment", "").strip()
    if not comment or len(comment) > 2000:
        raise HTTPException(400, "comment: say why, in 1 to 2,000 characters")
    by = data.get("by", "").strip()[:200]
    if not named and not by:
        raise HTTPException(400, "by: say who you are (your name)")
    return SilenceCreate(matchers=matchers, endsAt=end, createdBy=by or None, comment=comment)


def _row(silence: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": silence["id"],
        "matchers": silence["matchers"],
        "starts": datetime.fromisoformat(silence["startsAt"]),
        "ends": datetime.fromisoformat(silence["endsAt"]),
        "state": silence["status"]["state"],
        "created_by": silence["createdBy"],
        "comment": silence["comment"],
    }


def _windows(service: Service, now: datetime) -> list[dict[str, Any]]:
    """The configured windows, each with its specs in words and whether it is open now."""
    raw = service.options.windows.get(SECTION) or []
    out = []
    for window, item in zip(windows_from_config(service.options.windows), raw, strict=True):
        inside = [i for i in window.intervals if i.contains(now)]
        out.append(
            {
                "name": window.name,
                "matchers": [str(m) for m in window.matchers],
                "runbooks": list(window.runbooks),
                "comment": window.comment,
                "when": [_spec_text(s) for s in item.get("time_intervals") or []],
                "open_until": max(i.run_end(now) for i in inside) if inside else None,
            }
        )
    return out


def _spec_text(spec: Mapping[str, Any]) -> str:
    parts = []
    times = spec.get("times") or []
    if times:
        parts.append(", ".join(f"{t['start_time']}-{t['end_time']}" for t in times))
    for key in _SPEC_FIELDS:
        if spec.get(key):
            parts.append(f"{key.replace('_', ' ')} {', '.join(map(str, spec[key]))}")
    parts.append(str(spec.get("location") or "UTC"))
    return "; ".join(parts)
