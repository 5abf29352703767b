"""The engine: events and timer expiries in, commands out.

Detection runs through the compiled durable_rules rulesets; what needs time -- windows,
``for`` holds, heartbeats, correlation expiry, escalation deadlines -- is kept here on timers
owned by this class and read from an injected clock, so a virtual clock replays hours of an
incident in milliseconds. Handling steps live in ``engine.handling``. Nothing here does I/O:
callers execute the ``notify`` and ``run_step`` commands and report back with
``call_finished``.
"""

from __future__ import annotations

import collections
import functools
import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.clock import Clock
from engine.commands import Command, CommandKind
from engine.compiler import (
    ANCHOR,
    KEY_FIELD,
    SEQ_FIELD,
    CompiledRunbook,
    RulesetDef,
    parse_action_name,
    trigger_conditions,
)
from engine.evaluate import Miss, explain, holds
from engine.events import EVENT_FIELDS, EVENT_MAPS, Event
from engine.handling import Handling
from engine.incident import Incident, Status
from engine.lang.durations import format_duration
from engine.lang.severity import higher
from engine.limits import Rails
from engine.rules import Firing, Matcher, shard
from engine.templating import TemplateError, render_value
from engine.timers import Timer, TimerQueue


class EngineError(Exception):
    """A request the engine cannot honour (unknown incident, approval, call)."""


#: How long a resolved (or closed) incident stays in memory before only the store keeps it (the
#: default of settings ``engine.retention``). Nothing needs it in memory for long: the API reads
#: rows and timelines from the store; close, reopen and note carry the stored row (``revive``);
#: a call result that comes later is recorded on the timeline (``call_finished``). The window
#: only saves those detours for what usually comes right after a resolution -- the results of
#: the impact queries and last notifications (the executor's timeout is 30 s by default) and a
#: quick close or reopen, which then keeps every step result and alert. Memory is bounded by open
#: incidents plus the incidents resolved within this window.
RETENTION = timedelta(minutes=5)

#: How often idle per-key state (counting windows, safety-rail history) is swept. Sweeping is
#: O(keys), so it runs at most this often, on the engine's clock, whatever the event rate.
SWEEP_EVERY = timedelta(minutes=1)

#: A notification that failed for a reason that may pass (timeout, connection reset, 5xx, 429)
#: is sent again after these delays: a page lost to one dropped connection would otherwise only
#: be made up for by the next level's deadline, minutes later. A permanent failure (bad
#: credentials, 4xx) is not retried; the timeline says why.
NOTIFY_RETRY_DELAYS = (timedelta(seconds=10), timedelta(seconds=30))


class IncidentIds:
    """Incident ids INC-1, INC-2, ...; an object (not a closure) so a snapshot can store it."""

    def __init__(self, issued: int = 0) -> None:
        self.issued = issued

    def __call__(self) -> str:
        self.issued += 1
        return f"INC-{self.issued}"


def incident_key(compiled: CompiledRunbook, event: Event) -> str:
    """The values of the runbook's group_by fields: what makes two alerts one incident."""
    parts = []
    for path, head, rest in _key_paths(tuple(compiled.runbook.detection.group_by)):
        if rest:
            source = getattr(event, head) if head in EVENT_MAPS else None
            value = source.get(rest) if source is not None else None
        else:
            value = getattr(event, head) if head in EVENT_FIELDS else None
        parts.append(f"{path}={'' if value is None else value}")
    return ",".join(parts)


@functools.lru_cache(maxsize=1024)
def _key_paths(fields: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    # Split once per runbook, not once per event and runbook: this was 28% of the engine's
    # time in the 100k-event benchmark (bench/RESULTS.md).
    return tuple((f, *f.partition(".")[::2]) for f in fields)


class Engine(Handling):
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
    ) -> None:
        self.clock = clock
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
        # Eviction runs on the engine's clock at its inputs, never on the wall clock or a thread:
        # replaying the journal makes the same decisions (runbookd/worker.py).
        #: (retire_at, incident id) in clock order; an entry is stale once the incident reopened
        self._retiring: deque[tuple[datetime, str]] = deque()
        self._next_sweep: datetime | None = None
        for item in compiled:
            self.add_runbook(item)

    # --- runbooks -------------------------------------------------------------------------

    def add_runbook(self, compiled: CompiledRunbook) -> None:
        if compiled.runbook.id in self.runbooks:
            raise EngineError(f"runbook {compiled.runbook.id!r} is already loaded")
        for ruleset in compiled.rulesets():
            self.matcher.load(ruleset.definition())
        self.runbooks[compiled.runbook.id] = compiled
        self._arm_heartbeats(compiled)

    def _arm_heartbeats(self, compiled: CompiledRunbook) -> None:
        # A heartbeat expected from the start: with no group_by there is one key, known now.
        if not compiled.runbook.detection.group_by:
            for index, trigger in enumerate(compiled.runbook.detection.triggers):
                if trigger.kind == "absent" and trigger.within is not None:
                    self.timers.schedule(
                        self._absent_timer(compiled, index, ""),
                        self.clock.now() + trigger.within,
                        kind="absent",
                        runbook=compiled.runbook.id,
                        trigger=index,
                        key="",
                    )

    def set_runbooks(self, compiled: Sequence[CompiledRunbook]) -> list[str]:
        """Swap in a new library; returns the ids added, changed or removed.

        An unchanged runbook (same ruleset name = same content) keeps its rules and pending
        correlations. A changed one gets its new rules for new incidents; incidents already open
        finish under the version that opened them (their lifecycle rules stay loaded). Counting
        windows and pending correlation halves of a changed runbook start empty.
        """
        wanted = {c.runbook.id: c for c in compiled}
        touched: list[str] = []
        for rid, old in list(self.runbooks.items()):
            new = wanted.get(rid)
            if new is not None and new.name == old.name:
                continue
            touched.append(rid)
            for ruleset in old.triggers:
                self.matcher.unload(ruleset.name)
            del self.runbooks[rid]
            if old.lifecycle and not any(
                i.is_open and i.compiled is old for i in self.incidents.values()
            ):
                self.matcher.unload(old.lifecycle.name)
            for key in [k for k in self._windows if k[0] == rid]:
                del self._windows[key]
        for rid, new in wanted.items():
            if rid not in self.runbooks:
                if rid not in touched:
                    touched.append(rid)
                for ruleset in new.rulesets():
                    if ruleset.name not in self.matcher.loaded:
                        self.matcher.load(ruleset.definition())
                self.runbooks[rid] = new
                self._arm_heartbeats(new)
        return touched

    # --- inputs ---------------------------------------------------------------------------

    def ingest(self, event: Event) -> list[Command]:
        """One event through every runbook that may care about it."""
        self._out = []
        self._attached.clear()
        self._forget()
        for compiled in self.runbooks.values():
            routed = compiled.names is None or event.name in compiled.names
            if not routed and not self._open_count[compiled.runbook.id]:
                continue  # most events concern no runbook: skip building their key
            key = incident_key(compiled, event)
            incident = self._find_open(compiled.runbook.id, key)
            if incident is not None:
                self._incident_event(incident, event)
            if routed:
                self._detect(compiled, key, event)
        return self._flush()

    def _set_open(self, runbook: str, key: str, incident_id: str) -> None:
        if (runbook, key) not in self._open:
            self._open_count[runbook] += 1
        self._open[(runbook, key)] = incident_id

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

    # --- detection ------------------------------------------------------------------------

    def _detect(self, compiled: CompiledRunbook, key: str, event: Event) -> None:
        for index, ruleset in enumerate(compiled.triggers):
            self._post_trigger(compiled, index, ruleset, key, event)
        self._check_for_holds(compiled, key, event)

    def _post_trigger(
        self, compiled: CompiledRunbook, index: int, ruleset: RulesetDef, key: str, event: Event
    ) -> None:
        doc = ruleset.projection.project(event.get)
        doc.update(ANCHOR)
        doc[KEY_FIELD] = key
        doc[SEQ_FIELD] = next(self._seq)
        sid = shard(key)
        result = self.matcher.post(ruleset.name, doc, sid)
        trigger = compiled.runbook.detection.triggers[index]
        for firing in result.firings:
            partner = self._partner(ruleset.name, firing, doc[SEQ_FIELD])
            if partner is not None:
                self._trigger_hit(compiled, index, key, event, partner[0])
            else:
                self._trigger_hit(compiled, index, key, event)
        if result.pending and trigger.within is not None:
            # Half of a correlation: it waits for its partner no longer than the window.
            self._halves[doc[SEQ_FIELD]] = (event, self.clock.now())
            self.timers.schedule(
                f"corr:{ruleset.name}:{doc[SEQ_FIELD]}",
                self.clock.now() + trigger.within,
                kind="expire",
                ruleset=ruleset.name,
                doc=doc,
                sid=sid,
            )

    def _partner(self, ruleset: str, firing: Firing, seq: int) -> tuple[Event, datetime] | None:
        """The pending half a correlation firing joined this event with (removed from memory)."""
        for message in firing.messages.values():
            other = message.get(SEQ_FIELD)
            if other is not None and other != seq and other in self._halves:
                # The firing consumed the half inside durable_rules, so its expiry has nothing
                # left to retract; left armed, it would keep the projected document in memory
                # for the whole window (5 minutes per incident in the bundled payment runbook).
                self.timers.cancel(f"corr:{ruleset}:{other}")
                return self._halves.pop(other)
        return None

    def _trigger_hit(
        self,
        compiled: CompiledRunbook,
        index: int,
        key: str,
        event: Event,
        earlier: Event | None = None,
    ) -> None:
        rb = compiled.runbook
        trigger = rb.detection.triggers[index]
        now = self.clock.now()
        # A firing for a key whose incident is open belongs to that incident's timeline (and
        # its post-mortem); one that may open an incident comes before the incident exists.
        self._emit(
            "rule_fired",
            self._find_open(rb.id, key),
            compiled,
            role="trigger",
            rule=rb.trigger_id(index),
            event=event.name,
            key=key,
            status=event.status,
        )
        kind = trigger.kind
        if kind == "correlate" and earlier is not None:
            self._fire(compiled, index, key, event)  # the completing signal opens it (`alert`)
            self._fire(compiled, index, key, earlier)  # and the first one is attached too
        elif kind in ("match", "correlate"):
            self._fire(compiled, index, key, event)
        elif kind == "count":
            assert trigger.within is not None and trigger.count is not None
            window = self._windows.setdefault((rb.id, index, key), deque())
            window.append((now, event))
            while window and now - window[0][0] >= trigger.within:
                window.popleft()
            if len(window) >= trigger.count:
                counted = [e for _, e in window]
                del self._windows[(rb.id, index, key)]  # empty: the next event starts anew
                self._fire(compiled, index, key, event)  # the last one opens it (`alert`)
                for earlier in counted[:-1]:  # and every counted event is part of it
                    self._fire(compiled, index, key, earlier)
        elif kind == "for":
            assert trigger.for_ is not None
            name = f"for:{rb.id}:{index}:{key}"
            if self.timers.get(name) is None and self._find_open(rb.id, key) is None:
                self._timer(
                    None,
                    name,
                    now + trigger.for_,
                    kind="for",
                    runbook=rb.id,
                    trigger=index,
                    key=key,
                    event=event,
                )
            elif self._find_open(rb.id, key) is not None:
                self._fire(compiled, index, key, event)
        else:  # absent: this is the heartbeat; push the deadline out and recover if it was late
            assert trigger.within is not None
            self.timers.schedule(
                self._absent_timer(compiled, index, key),
                now + trigger.within,
                kind="absent",
                runbook=rb.id,
                trigger=index,
                key=key,
            )
            incident = self._find_open(rb.id, key)
            if incident is not None and incident.trigger == rb.trigger_id(index):
                self._recovered(incident, "the expected events are arriving again")

    def _check_for_holds(self, compiled: CompiledRunbook, key: str, event: Event) -> None:
        """Cancel a pending ``for`` when the same signal stops matching."""
        for index, trigger in enumerate(compiled.runbook.detection.triggers):
            if trigger.kind != "for":
                continue
            name = f"for:{compiled.runbook.id}:{index}:{key}"
            timer = self.timers.get(name)
            if timer is None:
                continue
            first: Event = timer.payload["event"]
            same = (
                event.identity == first.identity
                if first.kind == "alert"
                else event.name == first.name
            )
            if same and not holds(trigger_conditions(trigger)[0], event.get):
                self._cancel(None, name)

    def _absent_timer(self, compiled: CompiledRunbook, index: int, key: str) -> str:
        return f"absent:{compiled.runbook.id}:{index}:{key}"

    def _fire(self, compiled: CompiledRunbook, index: int, key: str, event: Event | None) -> None:
        incident = self._find_open(compiled.runbook.id, key)
        if incident is None:
            self._open_incident(compiled, index, key, event)
        elif event is not None:
            self._attach(incident, event)

    # --- incidents ------------------------------------------------------------------------

    def _open_incident(
        self, compiled: CompiledRunbook, index: int, key: str, event: Event | None
    ) -> None:
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

    # --- memory: resolved incidents and idle keys leave ------------------------------------

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

    def _sweep_windows(self, now: datetime) -> None:
        """Counting windows whose every event is older than the window hold nothing."""
        for window_key in list(self._windows):
            runbook, index, _ = window_key
            window = self._windows[window_key]
            compiled = self.runbooks.get(runbook)
            within = compiled.runbook.detection.triggers[index].within if compiled else None
            if within is None or not window or now - window[-1][0] >= within:
                del self._windows[window_key]

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

    # --- escalation -----------------------------------------------------------------------

    def _start_escalation(self, incident: Incident) -> None:
        escalation = incident.compiled.runbook.escalation
        if escalation is None:
            return
        self._notify_level(incident, "incident opened")
        if escalation.status_every is not None:
            self._timer(
                incident,
                f"{incident.id}:status",
                self.clock.now() + escalation.status_every,
                kind="status",
                incident=incident.id,
            )

    def _notify_level(self, incident: Incident, reason: str) -> None:
        escalation = incident.compiled.runbook.escalation
        assert escalation is not None
        level = escalation.levels[incident.level]
        now = self.clock.now()
        incident.levels_reached.append((level.id, now))
        context = incident.template_context(now, level={"id": level.id, "who": level.who})
        call_id = f"{incident.id}:notify:{level.id}:{incident.cycle}:{len(incident.levels_reached)}"
        self._call(
            incident,
            call_id,
            level.connector,
            level.params,
            context,
            role="notify",
            level=level.id,
            who=level.who,
            reason=reason,
        )
        # A status update re-notifies the current level; it must not push that level's
        # acknowledgement deadline out (with status_every < ack_within it never came).
        if (
            level.ack_within is not None
            and incident.status is Status.open
            and reason != "status update"
        ):
            self._timer(
                incident,
                f"{incident.id}:esc",
                now + level.ack_within,
                kind="escalate",
                incident=incident.id,
                reason=f"not acknowledged within {format_duration(level.ack_within)}",
            )

    def _notification_failed(
        self, incident: Incident, call_id: str, info: dict[str, Any], retryable: bool
    ) -> None:
        """Send a notification again later when its failure may pass (NOTIFY_RETRY_DELAYS)."""
        attempt = int(info.get("attempt") or 1)
        if not retryable or not incident.is_open or attempt > len(NOTIFY_RETRY_DELAYS):
            return
        first = str(info.get("first") or call_id)
        self._timer(
            incident,
            f"{incident.id}:notify-retry:{first}",
            self.clock.now() + NOTIFY_RETRY_DELAYS[attempt - 1],
            kind="notify_retry",
            incident=incident.id,
            level=info.get("level"),
            reason=info.get("reason") or "retry",
            first=first,
            attempt=attempt + 1,
        )

    def _retry_notification(self, incident: Incident, p: dict[str, Any]) -> None:
        escalation = incident.compiled.runbook.escalation
        levels = escalation.levels if escalation is not None else []
        level = next((lv for lv in levels if lv.id == p["level"]), None)
        if level is None:
            return
        now = self.clock.now()
        self._call(
            incident,
            f"{p['first']}:attempt{p['attempt']}",  # a new call: the outbox keys on its id
            level.connector,
            level.params,
            incident.template_context(now, level={"id": level.id, "who": level.who}),
            role="notify",
            level=level.id,
            who=level.who,
            reason=p["reason"],
            first=p["first"],
            attempt=p["attempt"],
        )

    def escalate(self, incident: Incident, reason: str) -> bool:
        """Move to the next level now; False when every level (and repeat) is used up."""
        escalation = incident.compiled.runbook.escalation
        if escalation is None:
            self._emit("note", incident, text=f"cannot escalate ({reason}): no escalation levels")
            return False
        self._cancel(incident, f"{incident.id}:esc")
        if incident.level + 1 < len(escalation.levels):
            incident.level += 1
        elif incident.cycle < escalation.repeat:
            incident.cycle += 1
            incident.level = 0
        else:
            self._emit("note", incident, text=f"escalation exhausted ({reason})")
            return False
        self._emit(
            "escalate",
            incident,
            level=escalation.levels[incident.level].id,
            reason=reason,
            cycle=incident.cycle,
        )
        self._notify_level(incident, reason)
        return True

    # --- plumbing shared with handling ------------------------------------------------------

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

    def _flush(self) -> list[Command]:
        self._attached.clear()  # ids of events are only meaningful within one input
        out, self._out = self._out, []
        return out

    def _get(self, incident_id: str, stored: Mapping[str, Any] | None = None) -> Incident:
        incident = self.incidents.get(incident_id)
        if incident is not None:
            return incident
        if stored is not None:
            return self.revive(incident_id, stored)
        raise EngineError(f"no incident {incident_id!r}")

    def _find_open(self, runbook: str, key: str) -> Incident | None:
        found = self._open.get((runbook, key))
        return self.incidents[found] if found is not None else None

    # --- explanations ---------------------------------------------------------------------

    def explain(self, event: Event) -> tuple[str, str, float, list[Miss]] | None:
        """The runbook trigger that came closest to matching ``event`` and what failed."""
        best: tuple[str, str, float, list[Miss]] | None = None
        for compiled in self.runbooks.values():
            for index, trigger in enumerate(compiled.runbook.detection.triggers):
                for cond in trigger_conditions(trigger):
                    score, misses = explain(cond, event.get)
                    if best is None or score > best[2]:
                        best = (
                            compiled.runbook.id,
                            compiled.runbook.trigger_id(index),
                            score,
                            misses,
                        )
        return best
