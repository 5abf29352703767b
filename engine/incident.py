"""An incident's state while the engine runs it, and the views templates and conditions read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from runbookd.engine.commands import Command
from runbookd.engine.compiler import CompiledRunbook
from runbookd.engine.events import Event
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.lang.severity import Complexity, Nature, Scope, Severity


class Status(str, Enum):
    """The engine's states; the API shows ``open`` as triggered, or mitigated once handled.

    Transitions: open -> acknowledged -> resolved -> closed; resolved or closed -> open (reopen).
    """

    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    closed = "closed"


#: Outcomes a step can end with; later steps' `when` conditions test them.
OUTCOMES = ("ok", "skipped", "failed", "denied", "expired")


@dataclass
class StepState:
    outcome: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    error: str | None = None


@dataclass
class Incident:
    id: str
    compiled: CompiledRunbook
    key: str
    labels: dict[str, str]
    opened_at: datetime
    trigger: str
    first_event: Event | None
    severity: Severity
    scope: Scope
    complexity: Complexity
    nature: Nature
    status: Status = Status.open
    acked_by: str | None = None
    acked_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    closed_at: datetime | None = None
    mitigated_at: datetime | None = None
    #: alert identity -> its last status
    alerts: dict[str, str] = field(default_factory=dict)
    alert_names: dict[str, int] = field(default_factory=dict)
    #: alert identity -> what the incident shows of it (name, status, labels, times)
    alert_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    label_values: dict[str, set[str]] = field(default_factory=dict)
    level: int = 0
    cycle: int = 0
    #: times it was reopened; numbers the calls a resolution makes again (impact queries)
    reopened: int = 0
    levels_reached: list[tuple[str, datetime]] = field(default_factory=list)
    #: index of the step being worked on; None before start / after the end
    step_index: int | None = None
    handling: str = "pending"  # pending|running|waiting|verifying|done|stopped
    #: True while the incident counts against handling.limits.max_concurrent of its runbook
    holds_slot: bool = False
    steps: dict[str, StepState] = field(default_factory=dict)
    impacts: dict[str, Any] = field(default_factory=dict)
    timeline: list[Command] = field(default_factory=list)
    #: while paging is paused by a silence or window (engine.muting): ``by`` (what mutes it,
    #: described) and ``since`` (ISO time); None otherwise
    paused: dict[str, str] | None = None
    #: when the engine may drop it from memory (set when it stops being open, see
    #: Engine.retention); the store keeps its row and timeline for good
    retire_at: datetime | None = None

    @property
    def runbook(self) -> str:
        return self.compiled.runbook.id

    @property
    def is_open(self) -> bool:
        return self.status not in (Status.resolved, Status.closed)

    def attach(self, event: Event) -> None:
        # Only alerts resolve; a generic event is a point in time and must not keep an incident
        # from resolving on_alerts_resolved.
        if event.kind == "alert":
            self.alerts[event.identity] = event.status
            self.alert_info[event.identity] = {
                # Kept in the stored row so an incident rebuilt from it knows its alerts.
                "identity": event.identity,
                "name": event.name,
                "status": event.status,
                "labels": dict(event.labels),
                "starts_at": (event.starts_at or event.at).isoformat(),
                "last_seen": event.at.isoformat(),
            }
            if event.escaped:  # which of its texts are shown escaped (alerts.storable)
                self.alert_info[event.identity]["escaped"] = list(event.escaped)
        self.alert_names[event.name] = self.alert_names.get(event.name, 0) + 1
        for name, value in event.labels.items():
            self.label_values.setdefault(name, set()).add(value)

    @classmethod
    def from_record(cls, compiled: CompiledRunbook, record: Mapping[str, Any]) -> Incident:
        """An incident that has left the engine's memory, rebuilt from what the store shows.

        ``record`` is the stored incident row as the API reads it (``status``, times, ``detail``)
        plus ``notified`` and ``reopened``: how many escalation notifications it had and how
        often it was reopened, so the ids of new calls do not repeat earlier ones. What the row does not keep starts empty: step results, impact
        figures, alerts beyond the row's first 200, and the first alert's annotations and value.
        """
        detail: Mapping[str, Any] = record.get("detail") or {}
        status = Status.closed if record["status"] == "closed" else Status.resolved
        incident = cls(
            id=record["id"],
            compiled=compiled,
            key=record["key"],
            labels=dict(record.get("labels") or {}),
            opened_at=_time(record["opened_at"]),
            trigger=str(detail.get("trigger", "")),
            first_event=None,
            severity=Severity(record["severity"]),
            scope=Scope(detail.get("scope", compiled.runbook.classification.scope.value)),
            complexity=Complexity(
                detail.get("complexity", compiled.runbook.classification.complexity.value)
            ),
            nature=Nature(detail.get("nature", compiled.runbook.classification.nature.value)),
            status=status,
            acked_by=record.get("acknowledged_by"),
            acked_at=_opt_time(record.get("acknowledged_at")),
            resolved_at=_opt_time(record.get("resolved_at")),
            resolved_by=record.get("resolved_by"),
            closed_at=_opt_time(record.get("closed_at")),
            mitigated_at=_opt_time(record.get("mitigated_at")),
            level=int(detail.get("level", 0)),
            handling=str(detail.get("handling", "stopped")),
        )
        for info in detail.get("alerts") or []:
            identity = info.get("identity") or _identity_of(info)
            incident.alerts[identity] = info.get("status", "resolved")
            incident.alert_info[identity] = dict(info)
            for name, value in (info.get("labels") or {}).items():
                incident.label_values.setdefault(name, set()).add(value)
        incident.alert_names = {
            str(k): int(v) for k, v in (detail.get("alert_names") or {}).items()
        }
        first = next(iter(incident.alert_info.values()), None)
        if first is not None:
            # The alert that opened it, as far as the row shows it (templates read `alert.*`).
            incident.first_event = Event(
                name=first["name"],
                at=_time(first.get("last_seen") or record["opened_at"]),
                kind="alert",
                status=first.get("status", "resolved"),
                labels=dict(first.get("labels") or {}),
                fingerprint=first.get("identity"),
                starts_at=_opt_time(first.get("starts_at")),
            )
        # Only the count matters: it numbers the next notification's call id.
        incident.levels_reached = [("", incident.opened_at)] * int(record.get("notified", 0))
        incident.reopened = int(record.get("reopened", 0))
        return incident

    def all_alerts_resolved(self) -> bool:
        return bool(self.alerts) and all(s == "resolved" for s in self.alerts.values())

    # --- views ----------------------------------------------------------------------------

    def view(self, now: datetime) -> dict[str, Any]:
        rb = self.compiled.runbook
        return {
            "id": self.id,
            "key": self.key,
            "title": rb.title,
            "severity": self.severity.value,
            "scope": self.scope.value,
            "complexity": self.complexity.value,
            "nature": self.nature.value,
            "status": self.status.value,
            "labels": dict(self.labels),
            "opened_at": self.opened_at.isoformat(),
            "acked_by": self.acked_by,
            "alerts": len(self.alerts) or sum(self.alert_names.values()),
            "age": (now - self.opened_at).total_seconds(),
            "runbook": rb.id,
            "section": rb.section,
            "team": rb.team,
        }

    def template_context(self, now: datetime, **extra: Any) -> dict[str, Any]:
        rb = self.compiled.runbook
        context: dict[str, Any] = {
            "incident": self.view(now),
            "runbook": {
                "id": rb.id,
                "title": rb.title,
                "version": rb.version,
                "section": rb.section,
                "team": rb.team,
            },
            "alert": event_view(self.first_event),
            "steps": {
                sid: {"outcome": s.outcome, "result": s.result, "attempts": s.attempts}
                for sid, s in self.steps.items()
            },
        }
        context.update(extra)
        return context

    def window(self, end: datetime) -> dict[str, Any]:
        seconds = max((end - self.opened_at).total_seconds(), 1.0)
        return {
            "start": self.opened_at.isoformat(),
            "end": end.isoformat(),
            "seconds": seconds,
            "duration": format_duration(end - self.opened_at) if seconds > 1 else "1s",
        }

    def lookup(self, now: datetime, event: Event | None = None) -> Any:
        """A field reader for conditions over incident.*, steps.*, alert.* and event paths."""
        view = self.view(now)

        def read(path: str) -> Any:
            head, _, rest = path.partition(".")
            if head == "incident":
                sub, _, name = rest.partition(".")
                if sub == "labels":
                    return self.labels.get(name)
                if sub == "distinct":
                    values = set(self.label_values.get(name, set()))
                    if event is not None and name in event.labels:
                        values.add(event.labels[name])
                    return len(values)
                return view.get(rest)
            if head == "steps":
                step_id, _, attr = rest.partition(".")
                state = self.steps.get(step_id)
                if state is None:
                    return None
                if attr == "outcome":
                    return state.outcome
                if attr == "attempts":
                    return state.attempts
                if attr.startswith("result."):
                    return dig(state.result, attr.removeprefix("result."))
                return None
            if head == "alert":
                return self.first_event.get(rest) if self.first_event else None
            return event.get(path) if event is not None else None

        return read


def event_view(event: Event | None) -> dict[str, Any]:
    if event is None:
        return {
            "name": None,
            "labels": {},
            "annotations": {},
            "value": None,
            "status": None,
            "fingerprint": None,
            "starts_at": None,
        }
    return {
        "name": event.name,
        "labels": dict(event.labels),
        "annotations": dict(event.annotations),
        "value": event.value,
        "status": event.status,
        "fingerprint": event.fingerprint,
        "starts_at": (event.starts_at or event.at).isoformat(),
    }


def _time(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _opt_time(value: datetime | str | None) -> datetime | None:
    return None if value is None else _time(value)


def _identity_of(info: Mapping[str, Any]) -> str:
    # Rows written before alert identities were stored: name and labels, like Event.identity.
    labels = info.get("labels") or {}
    return str(info.get("name")) + "|" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def dig(data: Any, path: str) -> Any:
    """``a.b.0.c`` into nested dicts and lists; None when any part is missing."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node
