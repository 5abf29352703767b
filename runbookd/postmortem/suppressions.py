"""The post-mortem's suppressions: alerts kept from paging while the incident was open.

Two kinds, both read from ``alert_outcome`` (what the engine recorded for every alert):

* ``suppressed``: an inhibition (``detection.inhibited_by``) held a runbook back because an
  incident of another runbook was open. Listed on the inhibiting incident (the alerts it held
  back) and on an incident of the held runbook (its alerts that another incident held back);
  ``by`` names the inhibiting incident.
* ``silenced``: a silence or maintenance window muted an alert of the incident, or one of its
  runbook's; ``by`` names the silence id or the window.

A storm can suppress thousands of alerts: the first ``LIMIT`` are listed and the rest counted,
so a manager sees that it happened, and the alerts page (``/alerts?outcome=suppressed``) has
them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from runbookd.postmortem.compute import aware
from runbookd.postmortem.model import Suppression
from runbookd.store import tables as t
from runbookd.store.codec import loads

LIMIT = 20
KINDS = ("suppressed", "silenced")


def load_suppressions(
    conn: Connection, incident: Mapping[str, Any], end: datetime
) -> tuple[list[Suppression], int]:
    """The suppressions while ``incident`` was open (until ``end``), oldest first, and how many
    more there were than are listed."""
    o = t.alert_outcome.c
    where = (
        o.outcome.in_(KINDS),
        o.at >= incident["opened_at"],
        o.at <= end,
        or_(o.incident_id == incident["id"], o.runbook == incident["runbook"]),
    )
    rows = conn.execute(
        select(o.at, o.name, o.status, o.outcome, o.incident_id, o.runbook, o.labels, o.results)
        .where(*where)
        .order_by(o.at, o.id)
        .limit(LIMIT + 1)
    ).all()
    more = 0
    if len(rows) > LIMIT:
        total = conn.execute(select(func.count()).select_from(t.alert_outcome).where(*where))
        more = int(total.scalar_one()) - LIMIT
    return [_suppression(row) for row in rows[:LIMIT]], more


def _suppression(row: Any) -> Suppression:
    labels = {k: str(v) for k, v in loads(row.labels).items() if k != "alertname"}
    results: list[dict[str, Any]] = loads(row.results)
    mine = next((r for r in results if r.get("outcome") == row.outcome), {})
    if row.outcome == "suppressed":
        # The record's incident is the inhibiting one; its runbook, the runbook held back.
        by_runbook = mine.get("by_runbook")
        by = f"{row.incident_id} ({by_runbook})" if by_runbook else str(row.incident_id)
    elif "silence" in mine:
        by = f"silence {mine['silence']}"
    else:
        by = f"maintenance window {mine.get('window')}"
    return Suppression(
        at=aware(row.at),
        alert=row.name,
        status=row.status,
        labels=labels,
        outcome=row.outcome,
        runbook=row.runbook,
        by=by,
    )
