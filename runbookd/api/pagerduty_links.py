"""Which runbookd incident a PagerDuty incident is, and which PagerDuty alerts an incident has.

Both come from the ``notify`` entries of the timeline: each PagerDuty notification is stored
there with its rendered parameters (the routing key as the ``${env:...}`` reference, never its
value) and its call id. The dedup key PagerDuty received is the ``dedup_key`` parameter, or --
when a runbook set none -- the call id (``runbookd.connectors.pagerduty.event``), and PagerDuty
reports it back as the incident's ``incident_key``.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy import select

from runbookd.connectors.pagerduty import MAX_DEDUP_KEY
from runbookd.service.core import Service
from runbookd.store import tables as t
from runbookd.store.codec import loads

#: Timeline kinds that may have sent a PagerDuty alert (a level, or a step using the connector).
_CALLS = ("notify", "run_step")


def dedup_key(data: dict[str, Any]) -> str | None:
    """The dedup key a PagerDuty trigger of this timeline entry sent, or None if it was none."""
    if data.get("connector") != "pagerduty" or data.get("role") == "sync":
        return None
    params = data.get("params")
    if not isinstance(params, dict) or params.get("action", "trigger") != "trigger":
        return None
    key = params.get("dedup_key") or str(data.get("call_id") or "")[:MAX_DEDUP_KEY]
    return str(key) or None


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_incident(conn: Any, incident_key: str) -> str | None:
    """The runbookd incident whose PagerDuty alert has ``incident_key`` (blocking)."""
    # The usual case first, on the index: the bundled runbooks' dedup key is the incident id.
    if any(dedup_key(a) == incident_key for a in _calls_of(conn, incident_key)):
        return incident_key
    rows = conn.execute(
        select(t.timeline.c.incident_id, t.timeline.c.data)
        .where(
            t.timeline.c.kind.in_(_CALLS),
            t.timeline.c.data.like(f"%{_escaped(incident_key)}%", escape="\\"),
        )
        .order_by(t.timeline.c.id.desc())
    ).all()
    for row in rows:
        if row.incident_id and dedup_key(loads(row.data)) == incident_key:
            return str(row.incident_id)
    return None


def _calls_of(conn: Any, incident_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(t.timeline.c.data)
        .where(t.timeline.c.incident_id == incident_id, t.timeline.c.kind.in_(_CALLS))
        .order_by(t.timeline.c.id)
    ).all()
    return [loads(row.data) for row in rows]


def targets(conn: Any, incident_id: str) -> list[dict[str, Any]]:
    """The PagerDuty alerts ``incident_id`` opened, once each: routing key (as written),
    dedup key, and whether the call was a dry run (blocking)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for data in _calls_of(conn, incident_id):
        key = dedup_key(data)
        routing = data.get("params", {}).get("routing_key")
        if key is None or not isinstance(routing, str):
            continue
        found.setdefault(
            (routing, key),
            {
                "routing_key": routing,
                "dedup_key": key,
                "dry_run": bool(data.get("dry_run")),
                "level": data.get("level") or data.get("step"),
            },
        )
    return list(found.values())


def with_alerts(service: Service, incident_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` (an ack or resolve) with the PagerDuty alerts to tell, under ``pagerduty``;
    the one the action came from (``came_from``, PagerDuty's incident key) is left out, so
    PagerDuty is never told what it said itself (blocking: call it in a thread)."""
    came_from = payload.get("came_from")
    try:
        with service.db.connect() as conn:
            alerts = targets(conn, incident_id)
    except Exception as exc:
        raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None
    alerts = [a for a in alerts if a["dedup_key"] != came_from]
    return {**payload, "pagerduty": alerts} if alerts else payload
