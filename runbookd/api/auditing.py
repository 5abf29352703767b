"""The API's side of the audit log: the record of a refused attempt (403), and what a request
was trying to do, read from its path.

``require_role`` (runbookd.api.principals) calls ``refused`` before it answers 403, so a denied
ack, approval, reload or override is in the log with who tried, from where, and what they lacked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from fastapi import Request

from runbookd.auth.audit import AuditRecord, TargetKind, short
from runbookd.auth.roles import Principal
from runbookd.service.audit import record
from runbookd.store.writer import StoreUnavailable

log = logging.getLogger(__name__)

_INCIDENT_ACTION = re.compile(r"^/(?:api/v1/)?incidents/([^/]+)/(ack|resolve|close|reopen|notes)$")
_FOLLOW_UP = re.compile(r"^/api/v1/incidents/([^/]+)/follow-ups(?:/([^/]+))?$")
_FOLLOW_UP_ACTIONS = {"POST": "follow_up_add", "PATCH": "follow_up_update"}
_APPROVAL = re.compile(r"^/(?:api/v1/)?approvals/([^/]+)$")
_OVERRIDE = re.compile(r"^/api/v1/oncall/([^/]+)/overrides(?:/([^/]+))?$")
_SILENCE = re.compile(r"^/api/v1/silences(?:/([^/]+))?")
_AUDIT_LOG = ("/api/v1/audit", "/audit")
#: What each reload route reloads: the whole configuration, or the runbooks alone.
RELOAD_TARGETS = {"/-/reload": "config", "/api/v1/runbooks/reload": "runbooks"}


def attempted(request: Request) -> tuple[str, TargetKind, str, str | None]:
    """What ``request`` tried: action, target kind, target, and the incident it concerns."""
    path, method = request.url.path, request.method
    if m := _INCIDENT_ACTION.match(path):
        action = "note" if m[2] == "notes" else m[2]
        return action, "incident", m[1], m[1]
    if m := _FOLLOW_UP.match(path):
        action = _FOLLOW_UP_ACTIONS.get(method, "follow_up_delete")
        return action, "follow_up", f"{m[1]}/{m[2]}" if m[2] else m[1], m[1]
    if m := _APPROVAL.match(path):
        return "decide", "approval", m[1], m[1].partition(":")[0]
    if m := _OVERRIDE.match(path):
        if method == "DELETE":
            return "override_remove", "schedule", f"{m[1]}/{m[2]}", None
        return "override", "schedule", m[1], None
    if m := _SILENCE.match(path):
        return ("unsilence" if method == "DELETE" else "silence"), "silence", m[1] or "", None
    if path in _AUDIT_LOG:
        return "read_audit", "audit", "", None
    if path in RELOAD_TARGETS:
        return "reload", "runbooks", RELOAD_TARGETS[path], None
    return f"{method} {path}"[:32], "runbooks" if "runbook" in path else "incident", path, None


async def refused(request: Request, principal: Principal, reason: str) -> None:
    """Store the record of ``principal``'s denied attempt at ``request`` (best effort: a store
    that is down must not turn the 403 into a 500 -- the attempt changed nothing)."""
    service = getattr(request.app.state, "service", None)
    if service is None:
        return
    action, target_kind, target, incident = attempted(request)
    entry = AuditRecord.of(
        principal,
        action,
        target_kind,
        target,
        outcome="denied",
        reason=reason,
        incident=incident,
    )
    try:
        await record(service, entry)
    except StoreUnavailable:
        log.warning("audit: a denied %s by %s could not be stored", action, principal.name)


async def reloaded(
    request: Request, principal: Principal, errors: Sequence[str], runbooks: int | None = None
) -> None:
    """Store the record of ``principal``'s reload through ``request``: ``applied`` with the
    number of runbooks now running, or ``failed`` with the number of errors and the first one.

    After the fact and best effort, like ``refused``: the reload is done (or refused) whatever
    the store says, and answering 503 for it would tell the caller something false.
    """
    service = getattr(request.app.state, "service", None)
    if service is None:
        return
    _action, target_kind, target, _ = attempted(request)
    if errors:
        # A problem line may quote a value from the file: no configured secret goes with it.
        first = service.redactor.clean(errors[0])
        count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
        entry = AuditRecord.of(
            principal,
            "reload",
            target_kind,
            target,
            outcome="failed",
            reason=count,
            detail=short(f"{count}; first: {first}"),
        )
    else:
        detail = "reloaded" if runbooks is None else f"reloaded: {runbooks} runbooks running"
        entry = AuditRecord.of(
            principal, "reload", target_kind, target, outcome="applied", detail=detail
        )
    try:
        await record(service, entry)
    except StoreUnavailable:
        log.warning("audit: a reload by %s could not be stored", principal.name)
