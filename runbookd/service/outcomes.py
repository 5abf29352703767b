"""Alert outcomes in the store and in metrics: the ``alert_outcome`` commands of a batch.

The engine emits one ``alert_outcome`` command per ingested event (``runbookd.engine.outcomes``).
``store_outcomes`` writes them in the engine batch's own transaction (called first thing by
``store_effects``), so an outcome is stored exactly when the batch's other effects are, and never
again on replay (replayed commands are discarded). ``UnmatchedCounter`` feeds
``runbookd_alerts_unmatched_total`` from the same commands after the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Connection, insert

from runbookd.engine.commands import Command
from runbookd.store import tables as t
from runbookd.store.codec import dumps

#: Distinct alertnames ``runbookd_alerts_unmatched_total`` gets a series for; later ones are
#: counted under ``OVERFLOW``. Alertnames come from rule files, a few hundred even on a large
#: estate, but anything that can post events could otherwise mint series without end.
UNMATCHED_NAMES_CAP = 200
OVERFLOW = "__other__"

_INSERT = insert(t.alert_outcome)


def store_outcomes(conn: Connection, commands: list[Command]) -> list[Command]:
    """Insert the batch's outcome rows in ``conn``'s transaction; returns the other commands."""
    rows: list[dict[str, Any]] = []
    rest: list[Command] = []
    for c in commands:
        if c.kind != "alert_outcome":
            rest.append(c)
            continue
        d = c.data
        rows.append(
            {
                "at": c.at,
                "kind": d["event_kind"],
                # Names and fingerprints are the sender's text: cut to the columns, never refused.
                "name": str(d["event"])[:256],
                "status": d["status"],
                "fingerprint": (d.get("fingerprint") or None) and str(d["fingerprint"])[:128],
                "outcome": d["outcome"],
                "incident_id": d.get("incident"),
                "runbook": d.get("runbook"),
                "labels": dumps(d.get("labels") or {}),
                "results": dumps(d.get("results") or []),
            }
        )
    if rows:
        conn.execute(_INSERT, rows)
    return rest


class UnmatchedCounter:
    """Counts firing alerts and events no runbook handled, by alertname, with a cap on names."""

    def __init__(self, counter: Counter, cap: int = UNMATCHED_NAMES_CAP) -> None:
        self._counter = counter
        self._cap = cap
        self._names: set[str] = set()

    def observe(self, commands: Iterable[Command]) -> None:
        for c in commands:
            if c.kind != "alert_outcome" or c.data.get("outcome") != "unmatched":
                continue
            if c.data.get("status") != "firing":  # the end of an alert is not a second one
                continue
            self._counter.labels(self._label(str(c.data.get("event")))).inc()

    def _label(self, name: str) -> str:
        if name in self._names:
            return name
        if len(self._names) < self._cap:
            self._names.add(name)
            return name
        return OVERFLOW
