"""The engine's state and the plumbing every concern shares: ``EngineCore``.

Each concern of the engine is a mixin that subclasses this class, and ``engine.runtime.Engine``
composes them. Owned here:

* the state, all of it set in ``__init__``: a snapshot stores exactly these attributes
  (``engine.snapshot``), so they are listed in one place;
* the command plumbing: ``_emit`` and ``_emit_stored`` add to the output of the current input
  and ``_flush`` hands it back; ``_call`` renders a connector call; ``_timer`` and ``_cancel``
  arm and drop timers and record that on the incident's timeline;
* the lookups: ``_get`` (an incident, revived from its stored row if it left memory),
  ``_find_open`` and ``_set_open`` (the open incident of a runbook and key);
* the clock's side: ``advance`` fires what is due and ``_on_timer`` routes each timer by kind
  to the concern that armed it;
* the hooks: every method one concern calls on another, declared once, at the end.

Why a base class with abstract hooks rather than the ``if TYPE_CHECKING:`` stubs the handling
mixin used to carry: the attributes are real (mypy reads them from ``__init__``; no copy to keep
in step), each cross-concern method is declared once instead of once per mixin that calls it,
mypy checks every implementation's signature against its declaration (a stub had drifted:
``_get`` without ``stored``), and an ``Engine`` that lacks one cannot be built -- mypy reports
the abstract class and Python raises ``TypeError`` -- where a missing stubbed method failed only
when first called. The list of hooks is also the map of where the concerns meet.
"""

from __future__ import annotations

import abc
import collections
import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from runbookd.engine.clock import Clock
from runbookd.engine.commands import Command, CommandKind
from runbookd.engine.compiler import SEQ_FIELD, CompiledRunbook
from runbookd.engine.errors import EngineError
from runbookd.engine.events import Event
from runbookd.engine.held import Held
from runbookd.engine.incident import Incident, Status
from runbookd.engine.keys import IncidentIds
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.limits import Rails
from runbookd.engine.oncall import OnCallLookup
from runbookd.engine.outcomes import Fate, FateKind
from runbookd.engine.rules import Matcher
from runbookd.engine.silences import Mutes
from runbookd.engine.templating import TemplateError, render_value
from runbookd.engine.timers import Timer, TimerQueue
from runbookd.engine.timing import RETENTION


class EngineCore(abc.ABC):
    """The state and plumbing of ``Engine``; every concern mixin subclasses it."""

    def __init__(
        self,
        compiled: Sequence[CompiledRunbook],
        clock: Clock,
        *,
        matcher: Matcher | None = None,
        dry_run: bool = False,
        id_factory: Callable[[], str] | None = None,
        retention: timedelta | None = RETENTION,
        keep_timelines: bool = True,
        oncall: OnCallLookup | None = None,
    ) -> None:
        self.clock = clock
        #: who is on call in a schedule at an instant (engine.oncall); configuration, not state
        self.oncall = oncall
        self.dry_run = dry_run
        #: how long resolved incidents stay in memory; None keeps them (the simulator does, for
        #: tests and replays that inspect incidents at the end of a long story)
        self.retention = retention
        #: Incident.timeline in memory: the simulator and post-mortem drafts read it; the service
        #: stores every command and reads timelines from the store, so it keeps none
        self.keep_timelines = keep_timelines
        self.matcher = matcher or Matcher()
        self.runbooks: dict[str, CompiledRunbook] = {}
        self.timers = TimerQueue()
        self.incidents: dict[str, Incident] = {}
        self.rails = Rails()
        #: silences (journaled) and maintenance windows (from the library entry): engine.muting
        self.mutes = Mutes()
        self._open: dict[tuple[str, str], str] = {}
        #: open incidents per runbook, to skip runbooks an event cannot concern
        self._open_count: collections.Counter[str] = collections.Counter()
        self._seq = itertools.count(1)
        self._new_id = id_factory or IncidentIds()
        self._windows: dict[tuple[str, int, str], deque[tuple[datetime, Event]]] = {}
        #: (incident, event object) attached during the current input
        self._attached: set[tuple[str, int]] = set()
        #: pending correlation halves by the seq of their posted document
        self._halves: dict[int, tuple[Event, datetime]] = {}
        self._calls: dict[str, dict[str, Any]] = {}
        self._approvals: dict[str, tuple[str, str]] = {}
        self._out: list[Command] = []
        #: the event ``ingest`` is routing and what happened to it so far (engine.outcomes);
        #: None and empty between inputs
        self._current: Event | None = None
        self._fates: list[Fate] = []
        #: the runbook that takes the events no other runbook did anything with
        self._fallback: str | None = None
        #: firings kept back by inhibition (engine.inhibition): by the inhibiting incident's id,
        #: then (runbook, key, alert identity)
        self._held: dict[str, dict[tuple[str, str, str], Held]] = {}
        # Eviction runs on the engine's clock at its inputs, never on the wall clock or a thread:
        # replaying the journal makes the same decisions (runbookd/worker.py).
        #: (retire_at, incident id) in clock order; an entry is stale once the incident reopened
        self._retiring: deque[tuple[datetime, str]] = deque()
        self._next_sweep: datetime | None = None
        for item in compiled:
            self.add_runbook(item)

    # --- the clock ------------------------------------------------------------------------

    def advance(self) -> list[Command]:
        """Fire every timer due at the clock's current time."""
        self._out = []
        now = self.clock.now()
        while (timer := self.timers.pop_due(now)) is not None:
            self._on_timer(timer)
        self._forget()
        return self._flush()

    def next_due(self) -> datetime | None:
        return self.timers.next_due()

    # --- lookups --------------------------------------------------------------------------

    def _set_open(self, runbook: str, key: str, incident_id: str) -> None:
        if (runbook, key) not in self._open:
            self._open_count[runbook] += 1
        self._open[(runbook, key)] = incident_id

    def _find_open(self, runbook: str, key: str) -> Incident | None:
        found = self._open.get((runbook, key))
        return self.incidents[found] if found is not None else None

    def _get(self, incident_id: str, stored: Mapping[str, Any] | None = None) -> Incident:
        incident = self.incidents.get(incident_id)
        if incident is not None:
            return incident
        if stored is not None:
            return self.revive(incident_id, stored)
        raise EngineError(f"no incident {incident_id!r}")

    # --- plumbing: calls, timers, commands ------------------------------------------------

    def _call(
        self,
        incident: Incident,
        call_id: str,
        connector: str,
        params: dict[str, Any],
        context: dict[str, Any],
        **data: Any,
    ) -> bool:
        """Render params and emit the command; a template failure is reported, not raised."""
        role = data.get("role", "notify")
        try:
            rendered = render_value(params, context)
        except TemplateError as exc:
            self._emit("note", incident, text=f"{role} {call_id}: {exc}")
            if role != "notify":
                self.call_failed_to_render(call_id, incident, str(exc), data)
            return False
        dry = self.dry_run or incident.compiled.runbook.handling.dry_run
        self._calls[call_id] = {
            "role": role,
            "incident": incident.id,
            # for a result that comes after the incident left memory (call_finished)
            "runbook": incident.runbook,
            "connector": connector,
            **data,
        }
        kind: CommandKind = "notify" if role == "notify" else "run_step"
        self._emit(
            kind,
            incident,
            call_id=call_id,
            connector=connector,
            params=rendered,
            dry_run=dry,
            **data,
        )
        return True

    def _timer(self, owner: Incident | None, name: str, due: datetime, **payload: Any) -> None:
        self.timers.schedule(name, due, **payload)
        if owner is not None:
            self._emit("start_timer", owner, name=name, due=due.isoformat())

    def _cancel(self, incident: Incident | None, name: str) -> None:
        if self.timers.cancel(name) and incident is not None:
            self._emit("cancel_timer", incident, name=name)

    def _on_timer(self, timer: Timer) -> None:
        p = timer.payload
        kind = p["kind"]
        if kind == "expire":
            self._halves.pop(p["doc"][SEQ_FIELD], None)
            if p["ruleset"] in self.matcher.loaded:  # unloaded by a reload: nothing pending
                self.matcher.retract(p["ruleset"], p["doc"], p["sid"])
            return
        if kind in ("for", "absent") and p["runbook"] not in self.runbooks:
            return  # the runbook was removed by a reload since the timer was armed
        if kind == "for":
            compiled = self.runbooks[p["runbook"]]
            self._fire(compiled, p["trigger"], p["key"], p["event"])
            return
        if kind == "absent":
            compiled = self.runbooks[p["runbook"]]
            trigger = compiled.runbook.detection.triggers[p["trigger"]]
            self._emit(
                "rule_fired",
                None,
                compiled,
                role="trigger",
                rule=compiled.runbook.trigger_id(p["trigger"]),
                event=None,
                key=p["key"],
                status=f"nothing for {format_duration(trigger.within) if trigger.within else '?'}",
            )
            self._fire(compiled, p["trigger"], p["key"], None)
            return
        incident = self.incidents.get(p["incident"])
        if incident is None or not incident.is_open:
            return
        if kind in ("escalate", "status", "notify_retry") and self._paging_held(incident, timer):
            return  # every firing alert is muted: armed again for the mute's end
        if kind == "escalate":
            if incident.status is Status.open:
                self.escalate(incident, p["reason"])
        elif kind == "status":
            escalation = incident.compiled.runbook.escalation
            if escalation is not None and escalation.status_every is not None:
                self._notify_level(incident, "status update")
                self._timer(
                    incident,
                    f"{incident.id}:status",
                    self.clock.now() + escalation.status_every,
                    kind="status",
                    incident=incident.id,
                )
        elif kind == "quiet":
            self._resolve(incident, p["reason"])
        elif kind == "notify_retry":
            self._retry_notification(incident, p)
        else:
            self.on_handling_timer(incident, kind, p)

    def _emit(
        self,
        kind: CommandKind,
        incident: Incident | None,
        compiled: CompiledRunbook | None = None,
        **data: Any,
    ) -> Command:
        runbook = (
            incident.runbook if incident is not None else compiled.runbook.id if compiled else None
        )
        command = Command(kind, self.clock.now(), incident.id if incident else None, runbook, data)
        self._out.append(command)
        if incident is not None and self.keep_timelines:
            incident.timeline.append(command)
        return command

    def _emit_stored(
        self, incident_id: str, runbook: str | None, kind: CommandKind, **data: Any
    ) -> Command:
        """A command for an incident that has left memory: for the store's timeline only."""
        command = Command(kind, self.clock.now(), incident_id, runbook, data)
        self._out.append(command)
        return command

    def _note(
        self,
        event: Event | None,
        kind: FateKind,
        runbook: str,
        incident: str | None = None,
        until: datetime | None = None,
        **detail: Any,
    ) -> None:
        """Record what happened to the event being ingested (others' fates are not recorded:
        an earlier event attached by a count or a correlation had its own outcome then)."""
        if event is not None and event is self._current:
            self._fates.append(Fate(kind, runbook, incident, until, detail))

    def _flush(self) -> list[Command]:
        self._attached.clear()  # ids of events are only meaningful within one input
        out, self._out = self._out, []
        return out

    # --- hooks: one concern calling another; each implemented by the mixin named ----------
    # engine.detection
    @abc.abstractmethod
    def add_runbook(self, compiled: CompiledRunbook) -> None: ...
    @abc.abstractmethod
    def _fire(
        self, compiled: CompiledRunbook, index: int, key: str, event: Event | None
    ) -> None: ...
    @abc.abstractmethod
    def _sweep_windows(self, now: datetime) -> None: ...

    # engine.lifecycle
    @abc.abstractmethod
    def _open_incident(
        self, compiled: CompiledRunbook, index: int, key: str, event: Event | None
    ) -> None: ...
    @abc.abstractmethod
    def _attach(self, incident: Incident, event: Event) -> None: ...
    @abc.abstractmethod
    def _incident_event(self, incident: Incident, event: Event) -> None: ...
    @abc.abstractmethod
    def _recovered(self, incident: Incident, reason: str) -> None: ...
    @abc.abstractmethod
    def _resolve(self, incident: Incident, reason: str, by: str | None = None) -> None: ...

    # engine.muting
    @abc.abstractmethod
    def _muted_open(self, compiled: CompiledRunbook, key: str, event: Event | None) -> bool: ...
    @abc.abstractmethod
    def _paging_held(self, incident: Incident, timer: Timer) -> bool: ...

    # engine.inhibition
    @abc.abstractmethod
    def _inhibitor(
        self, compiled: CompiledRunbook, key: str, event: Event | None
    ) -> Incident | None: ...
    @abc.abstractmethod
    def _suppress(
        self,
        inhibitor: Incident,
        compiled: CompiledRunbook,
        index: int,
        key: str,
        event: Event | None,
    ) -> None: ...
    @abc.abstractmethod
    def _is_held(self, runbook: str, key: str, name: str) -> str | None: ...
    @abc.abstractmethod
    def _drop_held(
        self, compiled: CompiledRunbook, key: str, event: Event | None, name: str
    ) -> None: ...
    @abc.abstractmethod
    def _release(self, inhibitor: Incident) -> None: ...

    # engine.retention
    @abc.abstractmethod
    def _forget(self) -> None: ...
    @abc.abstractmethod
    def _retire_later(self, incident: Incident) -> None: ...
    @abc.abstractmethod
    def revive(self, incident_id: str, stored: Mapping[str, Any]) -> Incident: ...

    # engine.escalation
    @abc.abstractmethod
    def _start_escalation(self, incident: Incident) -> None: ...
    @abc.abstractmethod
    def _notify_level(self, incident: Incident, reason: str) -> None: ...
    @abc.abstractmethod
    def _notification_failed(
        self, incident: Incident, call_id: str, info: dict[str, Any], retryable: bool
    ) -> None: ...
    @abc.abstractmethod
    def _retry_notification(self, incident: Incident, p: dict[str, Any]) -> None: ...
    @abc.abstractmethod
    def escalate(self, incident: Incident, reason: str) -> bool: ...

    # engine.steps
    @abc.abstractmethod
    def _start_handling(self, incident: Incident) -> None: ...
    @abc.abstractmethod
    def call_failed_to_render(
        self, call_id: str, incident: Incident, error: str, data: dict[str, Any]
    ) -> None: ...

    # engine.verification
    @abc.abstractmethod
    def _verify_event(self, incident: Incident, event: Event) -> None: ...
    @abc.abstractmethod
    def _measure_impact(self, incident: Incident) -> None: ...
    @abc.abstractmethod
    def on_handling_timer(self, incident: Incident, kind: str, payload: dict[str, Any]) -> None: ...
