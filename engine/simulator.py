"""The engine on a virtual clock with fake connectors: what ``runbookd test``, ``replay`` and
runbook authors' own pytest suites drive. Connector calls complete at once (zero latency), so
the timeline shows exactly when the engine decided each thing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from runbookd.connectors.base import ConnectorError, RetryableError
from runbookd.connectors.fake import FakeConnectors
from runbookd.engine.clock import VirtualClock
from runbookd.engine.commands import WORK_KINDS, Command
from runbookd.engine.compiler import CompiledRunbook
from runbookd.engine.errors import EngineError
from runbookd.engine.events import Event
from runbookd.engine.incident import Incident
from runbookd.engine.oncall import OnCallLookup
from runbookd.engine.runtime import Engine


class Simulator:
    def __init__(
        self,
        compiled: Sequence[CompiledRunbook],
        start: datetime,
        connectors: FakeConnectors | None = None,
        *,
        dry_run: bool = False,
        oncall: OnCallLookup | None = None,
    ) -> None:
        self.clock = VirtualClock(start)
        self.start = start
        self.connectors = connectors or FakeConnectors()
        # Stories are short and read incidents at their end: keep resolved ones in memory.
        self.engine = Engine(compiled, self.clock, dry_run=dry_run, retention=None, oncall=oncall)
        self.timeline: list[Command] = []
        #: one ``alert_outcome`` per ingested event (engine.outcomes), kept off the timeline
        self.outcomes: list[Command] = []

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def run_until(self, when: datetime) -> None:
        """Move the clock to ``when``, firing every timer due on the way at its exact time."""
        while (due := self.engine.next_due()) is not None and due <= when:
            self.clock.set(max(due, self.clock.now()))
            self._absorb(self.engine.advance())
        self.clock.set(max(when, self.clock.now()))

    def at(self, offset: timedelta) -> None:
        self.run_until(self.start + offset)

    # --- inputs ---------------------------------------------------------------------------

    def ingest(self, events: Iterable[Event]) -> None:
        for event in events:
            self._absorb(self.engine.ingest(event))

    def acknowledge(self, incident_id: str, by: str) -> None:
        self._absorb(self.engine.acknowledge(incident_id, by))

    def resolve(self, incident_id: str, by: str) -> None:
        self._absorb(self.engine.resolve(incident_id, by))

    def decide(self, approval_id: str, approved: bool, by: str) -> None:
        self._absorb(self.engine.decide(approval_id, approved, by))

    def add_note(self, incident_id: str, text: str, by: str) -> None:
        self._absorb(self.engine.add_note(incident_id, text, by))

    def silence(self, payload: dict[str, Any]) -> None:
        """A silence journal entry (``op: add`` or ``expire``; engine.silences)."""
        self._absorb(self.engine.silence(payload))

    # --- lookups --------------------------------------------------------------------------

    def incidents(self, runbook: str | None = None) -> list[Incident]:
        return [
            i for i in self.engine.incidents.values() if runbook is None or i.runbook == runbook
        ]

    def incident_for(self, runbook: str) -> Incident:
        """The newest incident of a runbook (open ones first)."""
        found = self.incidents(runbook)
        if not found:
            raise EngineError(f"runbook {runbook!r} has no incident at {self.now.isoformat()}")
        open_ = [i for i in found if i.is_open]
        return (open_ or found)[-1]

    def approval_for(self, step: str) -> str:
        for approval_id, (_, step_id) in self.engine.waiting_approvals().items():
            if step_id == step:
                return approval_id
        raise EngineError(f"no approval is waiting for step {step!r} at {self.now.isoformat()}")

    # --- execution ------------------------------------------------------------------------

    def _absorb(self, commands: list[Command]) -> None:
        queue = deque(commands)
        while queue:
            command = queue.popleft()
            if command.kind == "alert_outcome":
                self.outcomes.append(command)
                continue
            self.timeline.append(command)
            if command.kind in WORK_KINDS:
                queue.extend(self._execute(command))

    def _execute(self, command: Command) -> list[Command]:
        d = command.data
        try:
            result = self.connectors.call(
                d["connector"],
                dict(d["params"]),
                step=d.get("step") or d.get("level"),
                idempotency_key=d["call_id"],
                dry_run=bool(d.get("dry_run")),
            )
        except ConnectorError as exc:
            return self.engine.call_finished(
                d["call_id"],
                error=str(exc) or type(exc).__name__,
                retryable=isinstance(exc, RetryableError),
            )
        return self.engine.call_finished(d["call_id"], result=result)
