"""Approval gates: the steps waiting for a person, and the decision (approve or deny).

A decision is a journal entry like any engine input; the route waits until the engine applied
it and answers 409 when there was nothing to decide (already decided, expired, or the incident
resolved meanwhile -- a late approval never runs a step).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.params import Depends
from sqlmodel import Field, SQLModel

from runbookd.api.auditing import refused
from runbookd.api.principals import require_role
from runbookd.api.problems import errors
from runbookd.auth.audit import AuditRecord
from runbookd.auth.roles import Principal, Role, decision_refused
from runbookd.service.audit import journaled, record
from runbookd.service.core import Service
from runbookd.store.writer import StoreUnavailable

APPLY_TIMEOUT_S = 10.0


class ApprovalPublic(SQLModel):
    id: str
    incident: str
    runbook: str | None
    step: str
    deadline: str | None
    role: str = Field("approver", description="The role needed to decide (admins always may).")
    team: str | None = Field(None, description="The team whose members may decide, if any.")


class ApprovalList(SQLModel):
    approvals: list[ApprovalPublic]


class Decision(SQLModel):
    approve: bool = Field(description="true to run the step, false to deny it")
    by: str = Field(min_length=1, max_length=256)


def approval_denied(approval: Mapping[str, Any], principal: Principal) -> str | None:
    """Why ``principal`` may not decide ``approval`` (a row of ``worker.approvals``: the step's
    ``approval.role`` and ``approval.team``), or None."""
    team = approval.get("team")
    return decision_refused(principal, approval.get("role"), str(team) if team else None)


def waiting_approval(service: Service, approval_id: str) -> dict[str, Any] | None:
    return next((a for a in service.worker.approvals if a["id"] == approval_id), None)


async def decide_approval(
    service: Service, approval_id: str, approve: bool, by: str, principal: Principal | None = None
) -> dict[str, Any]:
    """Journal a decision on a waiting step and wait until the engine applied it.

    Shared by the API and the web pages' forms: 404 when nothing waits under that id, 409 when
    the engine refused it (decided meanwhile, expired, incident resolved), 503 store or engine.
    """
    audit = AuditRecord.of(
        principal,
        "approve" if approve else "deny",
        "approval",
        approval_id,
        by=by,
        incident=approval_id.partition(":")[0],
    )
    if not any(a["id"] == approval_id for a in service.worker.approvals):
        why = f"no approval {approval_id!r} is waiting"
        try:  # approving what is not waiting (any more) is worth a line in the log too
            await record(service, audit.settled("refused", why))
        except StoreUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
        raise HTTPException(404, why)
    payload: dict[str, Any] = {
        "action": "decide",
        "approval": approval_id,
        "approved": approve,
        "by": by,
    }
    if principal is not None:
        payload["principal"] = principal.to_json()
    job = journaled("action", payload, audit)
    try:
        seq = await asyncio.wrap_future(service.writer.submit(job))
        applied = await asyncio.wait_for(
            asyncio.wrap_future(service.worker.wait_applied(int(seq))), APPLY_TIMEOUT_S
        )
    except StoreUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    except TimeoutError:
        raise HTTPException(503, "stored, but the engine has not applied it yet") from None
    if applied.error is not None:
        raise HTTPException(409, applied.error)
    return {"id": approval_id, "decision": "approved" if approve else "denied", "by": by}


def approvals_router(service: Service, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"], dependencies=dependencies)

    @router.get(
        "", response_model=ApprovalList, summary="Steps waiting for approval", responses=errors()
    )
    async def waiting() -> ApprovalList:
        return ApprovalList(approvals=[ApprovalPublic(**a) for a in service.worker.approvals])

    @router.post(
        "/{approval_id}", summary="Approve or deny a waiting step", responses=errors(404, 409)
    )
    async def decide(
        request: Request,
        approval_id: str,
        body: Decision,
        principal: Annotated[Principal, Depends(require_role(Role.APPROVER))],
    ) -> dict[str, Any]:
        waiting = waiting_approval(service, approval_id)
        reason = approval_denied(waiting, principal) if waiting is not None else None
        if reason is not None:
            await refused(request, principal, reason)  # audited like require_role's 403
            raise HTTPException(403, reason)
        who = principal.claiming(body.by)
        return await decide_approval(service, approval_id, body.approve, who.name, who)

    return router
