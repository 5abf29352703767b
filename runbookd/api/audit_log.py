"""``GET /api/v1/audit``: the audit log, newest first, filtered and paged (``admin`` only).

The filters arrive as query strings and are parsed here (``parse_filter``), for this route and
the ``/audit`` page alike, so a bad one is the same 400 naming the parameter in both. Paging is
by a cursor: an answer's ``next`` is the ``before`` of the following page (rows are numbered in
the order they were stored, so a page never repeats or skips a row while new ones arrive).

Every text field is passed through the configured secrets' ``Redactor`` once more on the way
out: records are redacted when written, and this covers a secret configured after the fact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.params import Depends
from sqlalchemy import Select, or_, select

from runbookd.api.principals import require_role
from runbookd.auth.audit import OUTCOMES, Redactor
from runbookd.auth.roles import Principal, Role
from runbookd.service.core import Service
from runbookd.store import tables as t

#: Through what an action can have come, as the ``via`` filter accepts it.
VIA_FILTER: tuple[str, ...] = ("web", "api", "cli", "slack", "pagerduty")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: The query parameters the log is filtered and paged by; any other is a 400 (a typo that
#: is ignored silently would show the whole log as if it were the filtered one).
PARAMETERS = ("actor", "action", "target", "outcome", "since", "until", "via", "limit", "before")
_TEXT_MAX = 256
#: The fields of a row that are free text or names: redacted on the way out.
_TEXTS = ("actor", "target", "reason", "detail")


class FilterError(ValueError):
    """A bad filter: ``parameter`` names it, ``message`` says what is wrong."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    #: an incident (``INC-12``: its actions, approvals and follow-ups), or any record's target
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    via: str | None = None
    limit: int = DEFAULT_LIMIT
    before: int | None = None

    def given(self) -> dict[str, str]:
        """The filters as query parameters (without paging): for the page's links."""
        out: dict[str, str] = {}
        for name in ("actor", "action", "target", "outcome", "via"):
            value = getattr(self, name)
            if value:
                out[name] = value
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None:
                out[name] = moment.isoformat()
        if self.limit != DEFAULT_LIMIT:
            out["limit"] = str(self.limit)
        return out


def parse_filter(params: Mapping[str, str]) -> AuditFilter:
    """The filter that query ``params`` ask for; ``FilterError`` naming the first bad one.

    Empty values count as absent (the page's form sends every field)."""
    for name in params:
        if name not in PARAMETERS:
            raise FilterError(name, f"unknown parameter; known: {', '.join(PARAMETERS)}")
    given = {k: v.strip() for k, v in params.items() if v.strip()}
    for name in ("actor", "action", "target"):
        if len(given.get(name, "")) > _TEXT_MAX:
            raise FilterError(name, f"at most {_TEXT_MAX} characters")
    outcome = given.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise FilterError("outcome", f"{outcome!r} is not one of {', '.join(OUTCOMES)}")
    via = given.get("via")
    if via is not None and via not in VIA_FILTER:
        raise FilterError("via", f"{via!r} is not one of {', '.join(VIA_FILTER)}")
    since, until = _moment(given, "since"), _moment(given, "until")
    if since is not None and until is not None and until <= since:
        raise FilterError("until", "must be after since")
    return AuditFilter(
        actor=given.get("actor"),
        action=given.get("action"),
        target=given.get("target"),
        outcome=outcome,
        since=since,
        until=until,
        via=via,
        limit=_number(given, "limit", DEFAULT_LIMIT, MAX_LIMIT),
        before=_number(given, "before", None, None),
    )


def _moment(given: Mapping[str, str], name: str) -> datetime | None:
    """An RFC 3339 time (``Z`` or an offset; without one it is UTC, as elsewhere in the API)."""
    text = given.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(
            name, f"{text!r} is not an RFC 3339 time, e.g. 2026-12-08T09:30:00Z"
        ) from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise FilterError(name, f"{text!r} is outside the supported range") from None


def _number(given: Mapping[str, str], name: str, default: int | None, most: int | None) -> Any:
    text = given.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise FilterError(name, f"{text!r} is not a whole number of at least 1")
    value = int(text)
    if most is not None and value > most:
        raise FilterError(name, f"{value} is more than the most, {most}")
    if value > 2**62:  # past any row id, and past what the database's integers hold
        raise FilterError(name, f"{value} is too large")
    return value


def _query(f: AuditFilter) -> Select[Any]:
    a = t.audit.c
    query = select(t.audit).order_by(a.id.desc()).limit(f.limit + 1)
    if f.actor is not None:
        query = query.where(a.actor == f.actor)
    if f.action is not None:
        query = query.where(a.action == f.action)
    if f.target is not None:
        # "INC-12": what concerns the incident (its approvals and follow-ups too); a schedule
        # id: its overrides ("payments-primary/ab12..."); else the one target.
        prefix = f.target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        query = query.where(
            or_(a.target == f.target, a.incident_id == f.target, a.target.like(prefix, "\\"))
        )
    if f.outcome is not None:
        query = query.where(a.outcome == f.outcome)
    if f.via is not None:
        query = query.where(a.via == f.via)
    if f.since is not None:
        query = query.where(a.at >= f.since)
    if f.until is not None:
        query = query.where(a.at < f.until)
    if f.before is not None:
        query = query.where(a.id < f.before)
    return query


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_audit(service: Service, f: AuditFilter) -> dict[str, Any]:
    """One page of the log: ``entries`` newest first, and ``next`` (the ``before`` of the
    page after it, or None on the last page). Blocking: call it in a thread; a store that does
    not answer is a 503."""
    try:
        with service.db.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(_query(f))]
    except Exception as exc:
        raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    entries = [_public(row, service.redactor) for row in rows]
    return {"entries": entries, "next": str(rows[-1]["id"]) if more else None}


def _public(row: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    for name in _TEXTS:
        row[name] = redactor.clean_optional(row[name])
    return {
        "id": row["id"],
        "at": _aware(row["at"]).isoformat(),
        "actor": row["actor"],
        "role": row["role"],
        "kind": row["kind"],
        "via": row["via"],
        "address": row["address"],
        "action": row["action"],
        "target_kind": row["target_kind"],
        "target": row["target"],
        "incident": row["incident_id"],
        "outcome": row["outcome"],
        "reason": row["reason"],
        "detail": row["detail"],
    }


Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]


def audit_router(service: Service, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/audit", tags=["audit"], dependencies=dependencies)

    @router.get(
        "",
        summary="The audit log, newest first: who did what, through what, from where",
        responses={
            400: {"description": "a bad filter, named: `limit: 5000 is more than the most`"},
            403: {"description": "needs the admin role"},
        },
    )
    async def audit_log(request: Request, _who: Admin) -> dict[str, Any]:
        try:
            f = parse_filter(request.query_params)
        except FilterError as exc:
            raise HTTPException(400, str(exc)) from None
        return await asyncio.to_thread(read_audit, service, f)

    return router
