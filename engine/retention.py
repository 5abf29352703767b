"""Memory: what leaves it and what comes back -- ``Retention``.

A resolved or closed incident stays in memory for ``retention`` (``engine.timing.RETENTION``
explains the default), then only the store keeps it; ``revive`` brings it back from its stored
row when a person acts on it. Idle per-key state (counting windows, safety-rail history) is
swept every ``SWEEP_EVERY``. Both run at the engine's inputs and on its clock, never on a thread
or the wall clock, so replaying the journal makes the same decisions (runbookd/worker.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from runbookd.engine.core import EngineCore
from runbookd.engine.errors import EngineError
from runbookd.engine.incident import Incident
from runbookd.engine.timing import SWEEP_EVERY


class Retention(EngineCore):
    """Mixed into ``Engine``: settled incidents leave memory; idle state is swept."""

    def set_retention(self, retention: timedelta | None) -> None:
        """A new retention (from the journal's library entry) applies to every settled incident
        from now on, counted from now; None keeps them all."""
        if retention == self.retention:
            return
        self.retention = retention
        self._retiring.clear()
        for incident in self.incidents.values():
            incident.retire_at = None
            if not incident.is_open:
                self._retire_later(incident)

    def _retire_later(self, incident: Incident) -> None:
        if self.retention is not None:
            incident.retire_at = self.clock.now() + self.retention
            self._retiring.append((incident.retire_at, incident.id))

    def _forget(self) -> None:
        """Drop what no future input can need; called at every input, on the engine's clock."""
        now = self.clock.now()
        while self._retiring and self._retiring[0][0] <= now:
            at, incident_id = self._retiring.popleft()
            incident = self.incidents.get(incident_id)
            if incident is not None and not incident.is_open and incident.retire_at == at:
                # Its calls still in flight stay in _calls: their results are recorded (and
                # release their safety rails) when they come.
                del self.incidents[incident_id]
        if self._next_sweep is None:
            self._next_sweep = now + SWEEP_EVERY
        elif now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            self._sweep_windows(now)
            self.rails.prune(now)

    def revive(self, incident_id: str, stored: Mapping[str, Any]) -> Incident:
        """Bring an incident that left memory back from its stored row (close, reopen).

        It is kept ``retention`` again, so a second action right after finds it in memory, in
        the state the first one left.
        """
        compiled = self.runbooks.get(str(stored.get("runbook")))
        if compiled is None:
            raise EngineError(
                f"incident {incident_id} belongs to runbook {stored.get('runbook')!r}, "
                "which is no longer loaded"
            )
        if stored.get("status") not in ("resolved", "closed"):
            # Only resolved incidents leave memory; anything else is a record we cannot trust.
            raise EngineError(f"no incident {incident_id!r}")
        incident = Incident.from_record(compiled, {**stored, "id": incident_id})
        self.incidents[incident_id] = incident
        self._retire_later(incident)
        return incident
