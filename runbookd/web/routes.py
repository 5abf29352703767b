"""The pages people read in a browser: incidents, one incident, its post-mortem, reports
(the runbook pages are ``runbookd.web.runbook_pages``, the forms ``runbookd.web.actions``, the
login and the roles they need ``runbookd.web.gates``).

Reads run in a thread on the service's database engine; actions go through the same functions
as the API (``apply_action``, ``decide_approval``), so a form and a ``curl`` are refused or
accepted alike. Every form is a plain HTML POST carrying the CSRF token (``runbookd.web.csrf``)
and answers with a redirect back to the incident (post/redirect/get), or the page with the
reason when the engine refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from jinja2.sandbox import SandboxedEnvironment

from runbookd.api.alerts import list_outcomes, outcome_query
from runbookd.api.principals import Access
from runbookd.api.runbooks import running_runbooks
from runbookd.auth.roles import Principal
from runbookd.engine.keys import missing_labels
from runbookd.engine.matchers import MatcherError, parse_matchers
from runbookd.engine.outcomes import OUTCOMES
from runbookd.service.core import Service
from runbookd.web import facts, queries, reports
from runbookd.web.actions import NAME_COOKIE, actions_router
from runbookd.web.csrf import FIELD, Csrf, csrf_key
from runbookd.web.gates import Gates, csrf_user, current, page_login
from runbookd.web.oncall_pages import oncall_router
from runbookd.web.render import make_env, render, stylesheet
from runbookd.web.runbook_pages import runbook_router
from runbookd.web.timeline import chart

#: Largest form body accepted (a note is at most 10,000 characters).
MAX_FORM_BYTES = 64 * 1024
#: SQLite page cache for the connections the pages read on (KiB).
SQLITE_CACHE_KB = 32 * 1024
_ACTIONS = {"ack": "acknowledged", "resolve": "resolved", "notes": "note added"}
#: the newest alerts /alerts shows (the API pages further with its own limit)
ALERTS_PAGE_ROWS = 200


class Pages:
    def __init__(
        self,
        service: Service,
        access: Access,
        csrf: Csrf,
        now: Callable[[], datetime],
    ) -> None:
        self.service = service
        self.access = access
        self.csrf = csrf
        self.now = now
        self.env: SandboxedEnvironment = make_env()

    # --- helpers ---------------------------------------------------------------------------

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            try:
                with self.service.db.connect() as conn:
                    if conn.dialect.name == "sqlite":
                        # SQLite's default page cache is 2 MB; a report over 10,000 incidents
                        # reads more, and re-reading pages from the OS cost ~40 % of its time
                        # (measured). The setting stays with the pooled connection.
                        conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
                    return fn(conn, *args)
            except HTTPException:
                raise
            except facts.PeriodError:
                raise
            except Exception as exc:
                raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None

        return await asyncio.to_thread(run)

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        principal = current(request)
        token, fresh = self.csrf.token_for(request, csrf_user(principal))
        html = render(
            self.env,
            name,
            csrf_field=FIELD,
            csrf_token=token,
            user=principal.name if principal.named or principal.kind == "token" else "",
            gates=Gates(principal),
            by="" if principal.named else request.cookies.get(NAME_COOKIE, ""),
            now=self.now(),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if fresh:
            self.csrf.set_cookie(response, request, token)
        # The pages show live state: never serve one from a cache, and never inside a frame.
        response.headers["cache-control"] = "no-store"
        response.headers["x-frame-options"] = "DENY"
        response.headers["content-security-policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return response

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.page(
            request, "error.html.j2", status=status, status_code=status, message=message
        )

    async def form(self, request: Request) -> dict[str, str]:
        """The POSTed form after the CSRF check (403 without a valid token)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise HTTPException(415, "forms are sent as application/x-www-form-urlencoded")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, f"form larger than {MAX_FORM_BYTES} bytes")
        try:
            parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise HTTPException(400, "the form is not valid URL-encoded UTF-8") from None
        data = {k: v[0] for k, v in parsed.items()}
        if not self.csrf.check(request, data.get(FIELD), csrf_user(current(request))):
            raise HTTPException(403, "missing or invalid CSRF token: reload the page and try again")
        return data

    def who(self, request: Request, data: dict[str, str]) -> Principal:
        """Who acts through a form: a known user as themselves (no acting under another name);
        an unnamed principal (shared credential, nothing configured) under the form's name."""
        principal = current(request)
        if principal.named:
            return principal
        by = data.get("by", "").strip()
        if not by:
            raise HTTPException(422, "by: say who you are (your name)")
        if len(by) > 256:
            raise HTTPException(422, "by: at most 256 characters")
        return principal.claiming(by)

    def level_names(self) -> dict[str, list[str]]:
        library = self.service.library
        out: dict[str, list[str]] = {}
        for item in library.loaded if library else []:
            esc = item.runbook.escalation
            out[item.runbook.id] = [lvl.who or lvl.id for lvl in esc.levels] if esc else []
        return out


def web_router(
    service: Service,
    access: Access,
    *,
    now: Callable[[], datetime] | None = None,
) -> APIRouter:
    """The pages: a login (``gates.page_login``) on every one when ``access`` requires it."""
    pages = Pages(service, access, Csrf(csrf_key(access)), now or (lambda: datetime.now(UTC)))
    dependencies = [Depends(page_login)] if access.required else []
    router = APIRouter(tags=["web"], dependencies=dependencies, include_in_schema=False)
    css = stylesheet()

    @router.get("/static/web.css")
    async def style() -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "max-age=300"})

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        filters = queries.Filters.parse(request.query_params)
        try:
            page = await pages.read(queries.list_incidents, filters)
        except HTTPException as exc:
            return pages.error(request, exc.status_code, str(exc.detail))
        return pages.page(
            request,
            "index.html.j2",
            filters=filters,
            result=page,
            statuses=queries.STATUSES,
            severities=queries.SEVERITIES,
            open_statuses=queries.OPEN_STATUSES,
            levels=pages.level_names(),
            qs=lambda **kw: urlencode(filters.query(**kw)),
        )

    async def incident_page(
        request: Request, incident_id: str, *, status: int = 200, message: str = "", error: str = ""
    ) -> HTMLResponse:
        try:
            view = await pages.read(queries.load_incident, incident_id)
        except HTTPException as exc:
            return pages.error(request, exc.status_code, str(exc.detail))
        if view is None:
            return pages.error(request, 404, f"no incident {incident_id!r}")
        inc = view.incident
        end = inc["resolved_at"] or inc["closed_at"] or pages.now()
        waiting = [a for a in service.worker.approvals if a["incident"] == incident_id]
        return pages.page(
            request,
            "incident.html.j2",
            status=status,
            inc=inc,
            detail=inc["detail"] if isinstance(inc["detail"], dict) else {},
            missing=missing_labels(inc["key"]),
            view=view,
            svg=chart(view.timeline, inc["opened_at"], end, incident_id),
            approvals=waiting,
            levels=pages.level_names().get(inc["runbook"], []),
            message=message or _done_message(request),
            error=error,
        )

    @router.get("/alerts", response_class=HTMLResponse)
    async def alerts(request: Request) -> HTMLResponse:
        q = request.query_params
        filters = {k: q.get(k, "").strip() for k in ("outcome", "status", "alertname", "match")}
        if filters["outcome"] and filters["outcome"] not in OUTCOMES:
            return pages.error(request, 400, f"outcome: no such outcome {filters['outcome']!r}")
        if filters["status"] and filters["status"] not in ("firing", "resolved"):
            return pages.error(
                request, 400, f"status: not firing or resolved: {filters['status']!r}"
            )
        try:
            matchers = parse_matchers(filters["match"]) if filters["match"] else []
        except MatcherError as exc:
            return pages.error(request, 400, f"match: {exc}")
        query = outcome_query(
            [filters["status"]] if filters["status"] else None,
            [filters["alertname"]] if filters["alertname"] else None,
            [filters["outcome"]] if filters["outcome"] else None,
        )
        try:
            rows, complete = await asyncio.to_thread(
                list_outcomes, service, query, matchers, ALERTS_PAGE_ROWS
            )
        except HTTPException as exc:
            return pages.error(request, exc.status_code, str(exc.detail))
        return pages.page(
            request,
            "alerts.html.j2",
            filters=filters,
            rows=rows,
            complete=complete,
            outcomes=OUTCOMES,
            fallback=service.options.fallback_runbook,
        )

    @router.get("/incidents/{incident_id}", response_class=HTMLResponse)
    async def incident(request: Request, incident_id: str) -> HTMLResponse:
        return await incident_page(request, incident_id)

    router.include_router(actions_router(pages, service, incident_page))

    @router.get("/postmortems/{incident_id}", response_class=HTMLResponse)
    async def postmortem(request: Request, incident_id: str) -> HTMLResponse:
        from runbookd.postmortem.load import NotFound, load_summary_and_runbook
        from runbookd.postmortem.render import render as render_summary

        def build() -> str:
            summary, runbook = load_summary_and_runbook(service.db, incident_id, now=pages.now())
            return render_summary(summary, "html", runbook)

        try:
            html = await asyncio.to_thread(build)
        except NotFound:
            return pages.error(request, 404, f"no incident {incident_id!r}")
        except Exception as exc:
            return pages.error(request, 503, f"store unavailable: {type(exc).__name__}")
        response = HTMLResponse(html)
        response.headers["cache-control"] = "no-store"
        response.headers["x-frame-options"] = "DENY"
        # B's page is self-contained with inline CSS: allow inline styles, nothing else.
        response.headers["content-security-policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
        )
        return response

    router.include_router(runbook_router(pages, service))
    router.include_router(oncall_router(pages, service, pages.now))

    @router.get("/reports", response_class=HTMLResponse)
    async def report(request: Request) -> HTMLResponse:
        params = request.query_params
        try:
            period = facts.Period.parse(params.get("from"), params.get("to"), pages.now().date())
        except facts.PeriodError as exc:
            return pages.error(request, 400, str(exc))
        try:
            sections = await pages.read(reports.build, period, None, running_runbooks(service))
        except HTTPException as exc:
            return pages.error(request, exc.status_code, str(exc.detail))
        return pages.page(request, "reports.html.j2", period=period, sections=sections)

    return router


def _done_message(request: Request) -> str:
    done = _ACTIONS.get(request.query_params.get("done", ""), "")
    decided = request.query_params.get("decided", "")
    return done or (f"step {decided}" if decided in ("approved", "denied") else "")
