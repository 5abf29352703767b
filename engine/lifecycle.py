"""The incident lifecycle: open, attach, raise, recover, resolve; acknowledge, close, reopen,
notes -- ``Lifecycle``.

Every change of an incident's status is made here. Events for an open incident's key come here
too (``_incident_event``): alert bookkeeping, the runbook's raise and recover rules, and the
events a verifying step may wait for. Opening starts escalation and handling; resolving stops
every timer of the incident, gives back its runbook-wide slot, queries its impact figures and
hands it to ``engine.retention``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbookd.engine.commands import Command
from runbookd.engine.compiler import ANCHOR, SEQ_FIELD, CompiledRunbook, parse_action_name
from runbookd.engine.core import EngineCore
from runbookd.engine.errors import EngineError
from runbookd.engine.events import Event
from runbookd.engine.incident import Incident, Status
from runbookd.engine.lang.severity import higher
from runbookd.engine.rules import shard


class Lifecycle(EngineCore):
    """Mixed into ``Engine``: what people and rules do to an incident's status."""

    # --- inputs ---------------------------------------------------------------------------

    def acknowledge(self, incident_id: str, by: str) -> list[Command]:
        self._out = []
        incident = self._get(incident_id)
        if incident.status is Status.open:
            incident.status = Status.acknowledged
            incident.acked_by, incident.acked_at = by, self.clock.now()
            self._cancel(incident, f"{incident.id}:esc")
            self._emit("acknowledge", incident, by=by)
        return self._flush()

    def resolve(
        self, incident_id: str, by: str, reason: str = "resolved by a person"
    ) -> list[Command]:
        self._out = []
        incident = self._get(incident_id)
        if incident.is_open:
            self._resolve(incident, reason, by=by)
        return self._flush()

    def close(
        self, incident_id: str, by: str, stored: Mapping[str, Any] | None = None
    ) -> list[Command]:
        """A person closes a resolved incident (its post-mortem is done).

        ``stored`` is the incident as the store shows it, for one that has left memory.
        """
        self._out = []
        incident = self._get(incident_id, stored)
        if incident.status is not Status.resolved:
            raise EngineError(
                f"incident {incident_id} is {incident.status.value}; only a resolved one can close"
            )
        incident.status = Status.closed
        incident.closed_at = self.clock.now()
        self._emit("close", incident, by=by)
        return self._flush()

    def reopen(
        self,
        incident_id: str,
        by: str,
        reason: str = "reopened",
        stored: Mapping[str, Any] | None = None,
    ) -> list[Command]:
        """A resolved or closed incident is open again; escalation starts over from level 1.

        ``stored`` is the incident as the store shows it, for one that has left memory.
        """
        self._out = []
        incident = self._get(incident_id, stored)
        if incident.is_open:
            raise EngineError(f"incident {incident_id} is still open")
        other = self._find_open(incident.runbook, incident.key)
        if other is not None:
            raise EngineError(f"incident {other.id} is open for the same key; add to that one")
        incident.status = Status.open
        incident.resolved_at = incident.resolved_by = incident.closed_at = None
        incident.acked_at = incident.acked_by = None
        incident.level = incident.cycle = 0
        incident.reopened += 1
        incident.retire_at = None  # its entry in _retiring is now stale
        self._set_open(incident.runbook, incident.key, incident.id)
        self._emit("reopen", incident, by=by, reason=reason)
        self._start_escalation(incident)
        return self._flush()

    def add_note(
        self, incident_id: str, text: str, by: str, stored: Mapping[str, Any] | None = None
    ) -> list[Command]:
        """A person's note; on an incident that has left memory it goes to the timeline only."""
        self._out = []
        incident = self.incidents.get(incident_id)
        if incident is not None:
            self._emit("note", incident, text=text, by=by)
        elif stored is not None:
            self._emit_stored(incident_id, stored.get("runbook"), "note", text=text, by=by)
        else:
            raise EngineError(f"no incident {incident_id!r}")
        return self._flush()

    def find(self, runbook: str, key: str | None = None) -> list[Incident]:
        return [
            i
            for i in self.incidents.values()
            if i.runbook == runbook and (key is None or i.key == key)
        ]

    # --- incidents ------------------------------------------------------------------------

    def _open_incident(
        self, compiled: CompiledRunbook, index: int, key: str, event: Event | None
    ) -> None:
        if self._muted_open(compiled, key, event):
            return  # a silence or maintenance window: the event's outcome says which
        rb = compiled.runbook
        cls = rb.classification
        labels = dict(event.labels) if event is not None else {}
        for part in filter(None, key.split(",")):
            name, _, value = part.partition("=")
            if name.startswith("labels.") and value:
                labels.setdefault(name.removeprefix("labels."), value)
        incident = Incident(
            id=self._new_id(),
            compiled=compiled,
            key=key,
            labels=labels,
            opened_at=self.clock.now(),
            trigger=rb.trigger_id(index),
            first_event=event,
            severity=cls.effective_severity,
            scope=cls.scope,
            complexity=cls.complexity,
            nature=cls.nature,
        )
        self.incidents[incident.id] = incident
        self._set_open(rb.id, key, incident.id)
        self._note(event, "opened", rb.id, incident.id)
        self._emit(
            "open_incident",
            incident,
            title=rb.title,
            version=rb.version,
            section=rb.section,
            severity=incident.severity.value,
            key=key,
            trigger=incident.trigger,
            nature=cls.nature.value,
            scope=cls.scope.value,
            complexity=cls.complexity.value,
            labels=labels,
        )
        if event is not None:
            self._attach(incident, event)
        self._start_escalation(incident)
        self._start_handling(incident)

    def _attach(self, incident: Incident, event: Event) -> None:
        # Several triggers (each its own ruleset) may fire on one event: attach it once.
        mark = (incident.id, id(event))
        if mark in self._attached:
            return
        self._attached.add(mark)
        self._note(event, "joined", incident.runbook, incident.id)
        incident.attach(event)
        self._emit(
            "attach",
            incident,
            event=event.name,
            status=event.status,
            identity=event.identity,
            labels=dict(event.labels),
        )
        if event.status == "firing":
            self._cancel(incident, f"{incident.id}:quiet")

    def _incident_event(self, incident: Incident, event: Event) -> None:
        """An event for an open incident's key: alert bookkeeping, verification, raise/recover."""
        rb = incident.compiled.runbook
        if event.identity in incident.alerts and incident.alerts[event.identity] != event.status:
            self._attach(incident, event)
            if (
                event.status == "resolved"
                and rb.resolution.on_alerts_resolved
                and incident.all_alerts_resolved()
            ):
                self._recovered(incident, "all alerts resolved")
        self._verify_event(incident, event)
        lifecycle = incident.compiled.lifecycle
        if lifecycle is None or not incident.is_open:
            return
        doc = lifecycle.projection.project(incident.lookup(self.clock.now(), event))
        doc.update(ANCHOR)
        doc[SEQ_FIELD] = next(self._seq)
        result = self.matcher.post(lifecycle.name, doc, shard(incident.key))
        for firing in result.firings:
            _, role, index = parse_action_name(firing.action)
            self._emit(
                "rule_fired",
                incident,
                role=role,
                rule=f"{role}-{index + 1}",
                event=event.name,
                key=incident.key,
                status=event.status,
            )
            if role == "raise":
                self._raise(incident, index)
            elif role == "recover":
                self._recovered(incident, "recovery condition met")
        if result.pending:  # lifecycle rules never join; a pending message would only leak
            self.matcher.retract(lifecycle.name, doc, shard(incident.key))

    def _raise(self, incident: Incident, index: int) -> None:
        rule = incident.compiled.runbook.detection.raise_[index]
        changes: dict[str, str] = {}
        if (
            rule.severity is not None
            and higher(incident.severity, rule.severity) is not incident.severity
        ):
            incident.severity = rule.severity
            changes["severity"] = rule.severity.value
        if (
            rule.scope is not None
            and rule.scope is not incident.scope
            and rule.scope.value == "global"
        ):
            incident.scope = rule.scope
            changes["scope"] = rule.scope.value
        if (
            rule.complexity is not None
            and rule.complexity.value == "complex"
            and incident.complexity is not rule.complexity
        ):
            incident.complexity = rule.complexity
            changes["complexity"] = rule.complexity.value
        if changes:
            self._emit("raise", incident, changes=changes, reason=rule.reason)

    def _recovered(self, incident: Incident, reason: str) -> None:
        quiet = incident.compiled.runbook.resolution.quiet_for
        if quiet is None:
            self._resolve(incident, reason)
        elif self.timers.get(f"{incident.id}:quiet") is None:
            self._timer(
                incident,
                f"{incident.id}:quiet",
                self.clock.now() + quiet,
                kind="quiet",
                incident=incident.id,
                reason=reason,
            )

    def _resolve(self, incident: Incident, reason: str, by: str | None = None) -> None:
        now = self.clock.now()
        incident.status = Status.resolved
        incident.resolved_at, incident.resolved_by = now, by
        if incident.handling not in ("done", "stopped"):
            incident.handling = "stopped"
        for name in self.timers.cancel_prefix(f"{incident.id}:"):
            self._emit("cancel_timer", incident, name=name)
        # Nothing may act on a resolved incident: drop its waiting approvals (a late "approve"
        # then finds nothing to approve) and give back its runbook-wide concurrency slot.
        for approval_id in [a for a, (i, _) in self._approvals.items() if i == incident.id]:
            del self._approvals[approval_id]
        if incident.holds_slot:
            self.rails.finished(("runbook", incident.runbook))
            incident.holds_slot = False
        if self._open.pop((incident.runbook, incident.key), None) is not None:
            self._open_count[incident.runbook] -= 1
        self._retire_later(incident)
        self._emit("resolve", incident, reason=reason, by=by)
        self._measure_impact(incident)
        self._release(incident)  # what it inhibited opens now if it still fires
