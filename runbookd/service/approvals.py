"""The waiting approvals as the API lists them, rebuilt after the batches that can change them."""

from __future__ import annotations

from typing import Any

from runbookd.engine.runtime import Engine as RulesEngine

#: Commands after which the list of waiting approvals can differ.
APPROVAL_KINDS = frozenset(
    {"request_approval", "decide_approval", "resolve", "step_outcome", "close", "reopen"}
)


class ApprovalsView:
    """Rows of the waiting approvals, kept between batches so unchanged ones are reused."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    def rows(self, engine: RulesEngine, touched: set[str] | None = None) -> list[dict[str, Any]]:
        """The waiting approvals; rows of incidents outside ``touched`` are reused.

        Every payment incident waits for an approval, so the list grows with open incidents and
        rebuilding every row after every batch was 10 % of the engine thread in a burst. A row
        can only change in a batch with commands for its incident (the request, the decision,
        the timeout's escalation all are), so only those are rebuilt; ``None`` rebuilds all.
        """
        rows: dict[str, dict[str, Any]] = {}
        for approval_id, (incident_id, step_id) in engine.waiting_approvals().items():
            row = self._rows.get(approval_id)
            if (
                touched is None
                or incident_id in touched
                or row is None
                or (row["incident"], row["step"]) != (incident_id, step_id)
            ):
                row = _row(engine, approval_id, incident_id, step_id)
            rows[approval_id] = row
        self._rows = rows
        # A new list each time: the API thread reads the old one without a lock.
        return list(rows.values())


def _row(engine: RulesEngine, approval_id: str, incident_id: str, step_id: str) -> dict[str, Any]:
    incident = engine.incidents.get(incident_id)
    timer = engine.timers.get(f"{incident_id}:approval:{step_id}")
    steps = incident.compiled.runbook.handling.steps if incident else []
    gate = next((s.approval for s in steps if s.id == step_id), None)
    return {
        "id": approval_id,
        "incident": incident_id,
        "runbook": incident.runbook if incident else None,
        "step": step_id,
        "deadline": timer.due.isoformat() if timer else None,
        # who may decide (the API and the pages enforce it): role, and a team when one is named
        "role": gate.role if gate else "approver",
        "team": gate.team if gate else None,
    }
