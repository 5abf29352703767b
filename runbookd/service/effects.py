"""What one engine batch stores, in one transaction: outbox rows for connector calls, timeline
rows for every command, the rows of the incidents it touched, its ticks and the watermark.

Either all of it is stored or none (the caller owns the transaction), which is what makes a crash
at any instant lose nothing and repeat nothing (``runbookd.service.worker``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from runbookd.engine.commands import WORK_KINDS, Command
from runbookd.engine.executor import Work
from runbookd.engine.incident import Incident
from runbookd.engine.incident import Status as EngineStatus
from runbookd.service.outcomes import store_outcomes
from runbookd.store import tables as t
from runbookd.store.codec import dumps, loads


def store_effects(
    conn: Connection,
    commands: list[Command],
    last: int,
    ticks: list[tuple[int, datetime]],
    incidents: Mapping[str, Incident],
    now: datetime,
) -> list[Work]:
    """Store a batch's effects and watermark in ``conn``'s transaction; returns its connector
    calls as the executor would read them back from the outbox (the same decoded payloads)."""
    commands = store_outcomes(conn, commands)  # what each event did: its own table, no timeline
    work = [
        {
            "call_id": c.data["call_id"],
            "incident_id": c.incident,
            "kind": c.kind,
            "created_at": c.at,
            "payload": dumps(c.data),
            "status": "pending",
        }
        for c in commands
        if c.kind in WORK_KINDS
    ]
    if work:
        conn.execute(_INSERT_OUTBOX, work)
    if commands:
        conn.execute(
            _INSERT_TIMELINE,
            [
                {
                    "incident_id": c.incident,
                    "at": c.at,
                    "kind": c.kind,
                    "summary": c.detail(),
                    "data": dumps(c.data),
                    "journal_seq": last,
                }
                for c in commands
            ],
        )
    touched = sorted({c.incident for c in commands if c.incident})
    if touched:
        save_incidents(conn, touched, incidents, now)
    if ticks:
        conn.execute(_INSERT_TICK, [{"after_seq": s, "at": a} for s, a in ticks])
    conn.execute(_WATERMARK, {"b_seq": last, "b_at": now})
    return [Work(w["call_id"], w["kind"], loads(w["payload"])) for w in work]


def save_incidents(
    conn: Connection, ids: list[str], incidents: Mapping[str, Incident], now: datetime
) -> None:
    """Insert or update the rows of the incidents ``ids`` from their state in memory."""
    existing = set(conn.execute(_INCIDENT_IDS, {"ids": ids}).scalars())
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for incident_id in ids:
        incident = incidents.get(incident_id)
        if incident is None:  # left memory: a note or late call result, its row is as stored
            continue
        row = {"id": incident_id, **incident_row(incident, now)}
        (changed if incident_id in existing else new).append(row)
    if new:
        conn.execute(_INSERT_INCIDENT, new)
    if changed:  # one executemany, keyed by the b_id bind (the column name is taken)
        conn.execute(_INCIDENT_UPDATE, [{"b_id": r.pop("id"), **r} for r in changed])


def public_status(incident: Incident) -> str:
    """The API's lifecycle: triggered -> acknowledged -> mitigated -> resolved -> closed."""
    if incident.status is EngineStatus.closed:
        return "closed"
    if incident.status is EngineStatus.resolved:
        return "resolved"
    if incident.mitigated_at is not None:
        return "mitigated"
    return "acknowledged" if incident.status is EngineStatus.acknowledged else "triggered"


def incident_row(incident: Incident, now: datetime) -> dict[str, Any]:
    rb = incident.compiled.runbook
    return {
        "runbook": rb.id,
        "runbook_version": rb.version,
        "section": rb.section,
        "title": rb.title,
        "severity": incident.severity.value,
        "status": public_status(incident),
        "key": incident.key,
        "labels": dict(incident.labels),
        "opened_at": incident.opened_at,
        "acknowledged_at": incident.acked_at,
        "acknowledged_by": incident.acked_by,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "resolved_by": incident.resolved_by,
        "closed_at": incident.closed_at,
        "alerts": len(incident.alerts) or sum(incident.alert_names.values()),
        "detail": {
            "nature": incident.nature.value,
            "scope": incident.scope.value,
            "complexity": incident.complexity.value,
            "team": rb.team,
            "trigger": incident.trigger,
            "level": incident.level,
            "handling": incident.handling,
            # The correlated alerts (capped: an alert storm must not make one row huge).
            "alerts": list(incident.alert_info.values())[:200],
            "alert_names": dict(incident.alert_names),
        },
        "updated_at": now,
    }


_INCIDENT_UPDATE = update(t.incident).where(t.incident.c.id == bindparam("b_id"))

# The engine thread's statements, built once. A statement object caches its own cache key, so
# reusing it skips SQLAlchemy's per-call construction and cache-key work (a fifth of the engine
# thread's CPU when every batch built them afresh).
_INCIDENT_IDS = select(t.incident.c.id).where(t.incident.c.id.in_(bindparam("ids", expanding=True)))
_INSERT_INCIDENT = insert(t.incident)
_INSERT_OUTBOX = insert(t.outbox)
_INSERT_TIMELINE = insert(t.timeline)
_INSERT_TICK = insert(t.engine_tick)
_WATERMARK = (
    update(t.engine_state)
    .where(t.engine_state.c.id == 1)
    .values(applied_seq=bindparam("b_seq"), updated_at=bindparam("b_at"))
)
