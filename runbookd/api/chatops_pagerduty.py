"""``POST /api/v1/chatops/pagerduty``: PagerDuty v3 webhooks acknowledge and resolve incidents.

In order, and nothing is read from a request before its step passed:

1. the signature (``X-PagerDuty-Signature``, HMAC-SHA256 of the raw body with a subscription
   secret, ``runbookd.api.chatops_verify``): 401 and nothing changes when it does not match;
2. the body (``runbookd.api.pagerduty_payload``): 400 naming the field;
3. the event type: only ``incident.acknowledged`` and ``incident.resolved`` act, others get 200;
4. the incident: ``event.data.incident_key`` is the dedup key runbookd sent when it paged
   (``runbookd.api.pagerduty_links``); one runbookd did not open is answered 200 and ignored,
   since PagerDuty retries anything else;
5. once: the event id is claimed in ``webhook_event`` (``runbookd.store.webhook_events``), so a
   redelivery, at this replica or another, before or after a restart, acts no more;
6. the action goes through the same journaled path as the API's (``apply_action``), via
   ``pagerduty``, by the runbookd user whose ``pagerduty`` id is the agent's, else by the
   agent's name marked ``external``.

Every answer but a 5xx is final for PagerDuty, so only a store that is down answers 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlmodel import SQLModel

from runbookd.api.chatops_verify import Refused, verify_pagerduty
from runbookd.api.incidents import apply_action, read_incident
from runbookd.api.pagerduty_links import find_incident
from runbookd.api.pagerduty_payload import BadPayload, PagerDutyEvent, parse
from runbookd.api.principals import Access
from runbookd.api.problems import errors
from runbookd.auth.audit import AuditRecord
from runbookd.auth.roles import Principal, Role
from runbookd.service.audit import record
from runbookd.service.core import Service
from runbookd.store import webhook_events
from runbookd.store.writer import StoreUnavailable

log = logging.getLogger(__name__)

SOURCE = "pagerduty"
#: PagerDuty's events are a few kilobytes; anything near this is not one of them.
MAX_BODY = 262_144
_SETTLED = ("resolved", "closed")


class WebhookAnswer(SQLModel):
    status: str
    incident: str | None = None
    reason: str | None = None


def pagerduty_router(service: Service, secrets: Sequence[bytes]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/chatops", tags=["chatops"])
    keys = list(secrets)

    def count(outcome: str) -> None:
        service.metrics.chatops_requests.labels(SOURCE, outcome).inc()

    @router.post(
        "/pagerduty",
        response_model=WebhookAnswer,
        summary="PagerDuty v3 webhook: acknowledge or resolve from PagerDuty",
        responses={**errors(400), 413: {"description": "the body is too large"}},
    )
    async def receive(request: Request) -> WebhookAnswer:
        body = await _body(request)
        try:
            if not keys:
                raise Refused("chatops.pagerduty.webhook_secrets is not configured")
            verify_pagerduty(keys, request.headers.get("x-pagerduty-signature"), body)
        except Refused as exc:
            count("unauthorized")
            raise HTTPException(401, str(exc)) from None
        try:
            event = parse(body)
        except BadPayload as exc:
            count("malformed")
            raise HTTPException(400, str(exc)) from None
        action = event.action
        if action is None:
            count("ignored")
            return WebhookAnswer(status="ignored", reason=f"{event.event_type} is not acted on")
        try:
            incident_id = await _incident_of(service, event)
            if incident_id is None:
                count("unknown_incident")
                return WebhookAnswer(
                    status="ignored", reason="no runbookd incident has this incident_key"
                )
            outcome, answer = await _act_once(service, request, event, action, incident_id)
        except HTTPException as exc:
            if exc.status_code >= 500:
                count("unavailable")
            raise
        count(outcome)
        return answer

    return router


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"body larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"body larger than {MAX_BODY} bytes")
    return bytes(body)


async def _incident_of(service: Service, event: PagerDutyEvent) -> str | None:
    key = event.incident_key
    if not key:
        return None

    def find() -> str | None:
        try:
            with service.db.connect() as conn:
                return find_incident(conn, key)
        except Exception as exc:
            raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None

    return await asyncio.to_thread(find)


def principal_for(access: Access, event: PagerDutyEvent, address: str | None) -> Principal:
    """Who acted in PagerDuty: the runbookd user with that PagerDuty id, else the agent's name
    as an external responder (the subscription's signature is the credential, as the
    Alertmanager webhook's is)."""
    agent = event.agent
    if agent is not None and agent.id:
        account = access.users.by_pagerduty_id(agent.id)
        if account is not None:
            return account.principal("pagerduty", address)
    name = (agent.name or agent.id) if agent is not None else None
    return Principal(
        name=(name or "PagerDuty")[:256],  # what incident rows and the audit log hold
        role=Role.RESPONDER,
        via="pagerduty",
        address=address,
        kind="external",
    )


async def _act_once(
    service: Service, request: Request, event: PagerDutyEvent, action: str, incident_id: str
) -> tuple[str, WebhookAnswer]:
    access: Access = request.app.state.access
    who = principal_for(access, event, access.client_address(request))
    now = datetime.now(UTC)
    claimed = await _store(
        webhook_events.claim, service.db, SOURCE, event.id, event.event_type, incident_id, now
    )
    if claimed == "duplicate":
        return "duplicate", WebhookAnswer(
            status="duplicate", incident=incident_id, reason=f"event {event.id} was received before"
        )
    try:
        outcome, answer = await _apply(service, event, action, incident_id, who)
    except HTTPException as exc:
        detail = str(exc.detail)
        if exc.status_code >= 500 and not detail.startswith("stored"):
            await _release(service, event.id)  # nothing kept: PagerDuty's retry may act
            raise
        if exc.status_code >= 500:  # journaled, applies shortly: a retry must not add another
            outcome, answer = (
                "applied",
                WebhookAnswer(status="stored", incident=incident_id, reason=detail),
            )
        else:
            outcome, answer = (
                "refused",
                WebhookAnswer(status="refused", incident=incident_id, reason=detail),
            )
    await _store(webhook_events.finish, service.db, SOURCE, event.id, datetime.now(UTC))
    return outcome, answer


async def _apply(
    service: Service, event: PagerDutyEvent, action: str, incident_id: str, who: Principal
) -> tuple[str, WebhookAnswer]:
    if not who.may(Role.RESPONDER):
        why = f"{who.name} is {who.role}; {action} needs {Role.RESPONDER}"
        audit = AuditRecord.of(who, action, "incident", incident_id, incident=incident_id)
        await _store_audit(service, audit.settled("denied", why))
        return "denied", WebhookAnswer(status="denied", incident=incident_id, reason=why)
    current = await asyncio.to_thread(read_incident, service, incident_id)
    # An echo of runbookd's own call, or someone quicker: nothing to do, nothing to record.
    # (A mitigated incident may still be unacknowledged: its handling finished, not a person.)
    done = "acknowledged" if action == "ack" and current.acknowledged_at is not None else None
    if current.status in _SETTLED:
        done = current.status
    if done is not None:
        return "unchanged", WebhookAnswer(
            status="unchanged", incident=incident_id, reason=f"already {done}"
        )
    payload: dict[str, Any] = {
        "action": action,
        "by": who.name,
        "principal": who.to_json(),
        # the PagerDuty alert this came from is not told again (runbookd.service.pagerduty_sync)
        "came_from": event.incident_key,
    }
    if action == "resolve":
        payload["reason"] = _resolved_why(event)
    after = await apply_action(service, incident_id, payload)
    return "applied", WebhookAnswer(status="applied", incident=incident_id, reason=after.status)


def _resolved_why(event: PagerDutyEvent) -> str:
    where = f"PagerDuty incident #{event.number}" if event.number else "PagerDuty"
    if event.resolve_reason:
        return f"resolved in {where} ({event.resolve_reason})"
    return f"resolved in {where}"


async def _store(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except HTTPException:
        raise
    except Exception as exc:
        log.warning("pagerduty webhook: store unavailable: %s", type(exc).__name__)
        raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None


async def _store_audit(service: Service, audit: AuditRecord) -> None:
    try:
        await record(service, audit)
    except StoreUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


async def _release(service: Service, event_id: str) -> None:
    try:
        await asyncio.to_thread(webhook_events.release, service.db, SOURCE, event_id)
    except Exception as exc:  # the claim goes stale and a later delivery takes it over
        log.warning("pagerduty webhook: claim not released: %s", type(exc).__name__)
