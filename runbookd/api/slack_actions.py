"""What a Slack user's button or command does: who they are in runbookd, whether their role
allows it, and the action itself -- through the same journaled path as the API, ``via=slack``.

Every refusal (a Slack user no runbookd user names, a role too low) is answered with a message
naming the role needed, and audited; the audit record of an unknown user names the Slack id,
as an anonymous actor, never a runbookd user it did not prove to be.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy import select

from runbookd.api.approvals import approval_denied, decide_approval, waiting_approval
from runbookd.api.incidents import apply_action, read_incident, read_rows
from runbookd.api.principals import denied
from runbookd.auth.audit import AuditRecord, TargetKind
from runbookd.auth.roles import Principal, Role
from runbookd.auth.users import Users
from runbookd.service.audit import record
from runbookd.service.core import Service
from runbookd.store import tables as t
from runbookd.store.writer import StoreUnavailable

log = logging.getLogger(__name__)

#: The role each action needs (docs/access.md).
NEEDS = {
    "ack": Role.RESPONDER,
    "resolve": Role.RESPONDER,
    "approve": Role.APPROVER,
    "deny": Role.APPROVER,
    "status": Role.VIEWER,
}
VERBS = {"ack": "acknowledge", "resolve": "resolve", "approve": "approve", "deny": "deny"}
PAST = {"ack": "acknowledged", "resolve": "resolved", "approve": "approved", "deny": "denied"}
#: Incidents listed by ``/runbookd status`` without an id.
STATUS_LIMIT = 10


@dataclass(frozen=True)
class Reply:
    """What the Slack user is told; ``done`` is the action applied (the message is updated)."""

    text: str
    done: str | None = None
    by: str | None = None
    target: str | None = None


def _target(action: str, target: str) -> tuple[TargetKind, str | None]:
    if action in ("approve", "deny"):
        return "approval", target.partition(":")[0]
    return "incident", target or None


async def identify(
    service: Service, users: Users, slack_id: str, action: str, target: str
) -> Principal | Reply:
    """The runbookd principal behind ``slack_id`` if its role allows ``action``; else the
    refusal to show (already audited)."""
    role = NEEDS[action]
    kind, incident = _target(action, target)
    account = users.by_slack_id(slack_id) if slack_id else None
    if account is None:
        reason = (
            f"Slack user {slack_id or '?'} is not a runbookd user; this needs the {role} role "
            f"(an admin adds `slack: {slack_id or 'U...'}` to a user in config.yaml)"
        )
        audit = AuditRecord.of(
            None,
            action,
            kind,
            target,
            by=f"slack:{slack_id or '?'}",
            via="slack",
            outcome="denied",
            reason=reason,
            incident=incident,
        )
        await _audit(service, audit)
        return Reply(reason)
    principal = account.principal("slack")
    refusal = denied(principal, role) if not principal.may(role) else None
    if refusal is None and kind == "approval":
        # A step may ask for more than the approver role: its approval.role and approval.team.
        waiting = waiting_approval(service, target)
        refusal = approval_denied(waiting, principal) if waiting is not None else None
    if refusal is not None:
        audit = AuditRecord.of(
            principal, action, kind, target, outcome="denied", reason=refusal, incident=incident
        )
        await _audit(service, audit)
        return Reply(refusal)
    return principal


async def _audit(service: Service, audit: AuditRecord) -> None:
    try:
        await record(service, audit)
    except StoreUnavailable:  # the refusal changed nothing: it must still be answered
        log.warning("audit: a refused Slack %s could not be stored", audit.action)


async def perform(service: Service, principal: Principal, action: str, target: str) -> Reply:
    """Do ``action`` on ``target`` as ``principal``; a refusal becomes the reply's text."""
    try:
        if action in ("ack", "resolve"):
            payload = {"action": action, "by": principal.name, "principal": principal.to_json()}
            if action == "resolve":
                payload["reason"] = "resolved from Slack"
            await apply_action(service, target, payload)
        elif action in ("approve", "deny"):
            await decide_approval(service, target, action == "approve", principal.name, principal)
        else:
            return Reply(await asyncio.to_thread(status_text, service, target))
    except HTTPException as exc:
        return Reply(f"Could not {VERBS.get(action, action)} {target}: {exc.detail}")
    text = f"{target} {PAST[action]} by {principal.name}"
    return Reply(text, done=action, by=principal.name, target=target)


def status_text(service: Service, incident_id: str) -> str:
    """``/runbookd status [ID]``: one incident, or the open ones (blocking: call in a thread)."""
    if incident_id:
        try:
            found = read_incident(service, incident_id)
        except HTTPException as exc:
            return str(exc.detail)
        line = f"*{found.id}* [{found.severity}] {found.status}: {found.title}"
        if found.acknowledged_by:
            line += f"\nacknowledged by {found.acknowledged_by}"
        waiting = [a["id"] for a in service.worker.approvals if a["incident"] == found.id]
        if waiting:
            line += "\nwaiting for approval: " + ", ".join(waiting)
        return line
    query = (
        select(t.incident.c.id, t.incident.c.severity, t.incident.c.status, t.incident.c.title)
        .where(t.incident.c.status.in_(("triggered", "acknowledged", "mitigated")))
        .order_by(t.incident.c.opened_at.desc())
        .limit(STATUS_LIMIT)
    )
    rows = read_rows(service, query)
    if not rows:
        return "No open incidents."
    return "\n".join(f"*{r.id}* [{r.severity}] {r.status}: {r.title}" for r in rows)
