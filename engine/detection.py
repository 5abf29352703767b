"""Detection: events in, incidents opened or fed -- ``Detection``.

Owns the loaded runbooks and their trigger rulesets (``add_runbook``, ``set_runbooks``), the
routing of every event (``ingest``), the triggers posted to durable_rules through the
``Matcher``, and what needs time around them: pending correlation halves and their expiry,
``for`` holds, ``absent`` heartbeats, counting windows and their sweep. ``explain`` says which
trigger came closest to an event. A firing opens an incident or joins the open one through
``_fire``, unless an open incident of another runbook inhibits it (``engine.inhibition``); what
becomes of the incident is ``engine.lifecycle``'s.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime

from runbookd.engine.commands import Command
from runbookd.engine.compiler import (
    ANCHOR,
    KEY_FIELD,
    SEQ_FIELD,
    CompiledRunbook,
    RulesetDef,
    trigger_conditions,
)
from runbookd.engine.core import EngineCore
from runbookd.engine.errors import EngineError
from runbookd.engine.evaluate import Miss, explain, holds
from runbookd.engine.events import Event
from runbookd.engine.held import held_name
from runbookd.engine.keys import incident_key
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.outcomes import outcome_data
from runbookd.engine.rules import Firing, shard
from runbookd.engine.silences import alert_labels


class Detection(EngineCore):
    """Mixed into ``Engine``: runbooks, triggers and the windows kept around them."""

    # --- runbooks -------------------------------------------------------------------------

    def add_runbook(self, compiled: CompiledRunbook) -> None:
        if compiled.runbook.id in self.runbooks:
            raise EngineError(f"runbook {compiled.runbook.id!r} is already loaded")
        for ruleset in compiled.rulesets():
            self.matcher.load(ruleset.definition())
        self.runbooks[compiled.runbook.id] = compiled
        self._refresh_fallback()
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
        self._refresh_fallback()
        return touched

    # --- inputs ---------------------------------------------------------------------------

    def ingest(self, event: Event) -> list[Command]:
        """One event through every runbook that may care about it; the last command is its
        ``alert_outcome`` (engine.outcomes). An event no runbook did anything with goes to the
        fallback runbook, if one is loaded."""
        self._out = []
        self._attached.clear()
        self._forget()
        self._current, self._fates = event, []
        labels = alert_labels(event.name, event.labels)
        mute = self.mutes.find(labels, self.clock.now(), None)
        try:
            for compiled in self.runbooks.values():
                if compiled.runbook.id != self._fallback:
                    self._route(compiled, event)
            fallback = self.runbooks.get(self._fallback) if self._fallback else None
            if self._fates or fallback is None:
                fallback = None  # taken by a runbook, or no safety net loaded
            else:
                self._route(fallback, event)
            self._out.append(
                Command(
                    "alert_outcome",
                    self.clock.now(),
                    None,  # on no incident's timeline: its incident is in the data
                    None,
                    outcome_data(
                        event,
                        self._fates,
                        fallback.runbook.id if fallback else None,
                        mute.to_dict() if mute is not None else None,
                    ),
                )
            )
        finally:
            self._current, self._fates = None, []
        return self._flush()

    def _route(self, compiled: CompiledRunbook, event: Event) -> None:
        rid = compiled.runbook.id
        routed = compiled.names is None or event.name in compiled.names
        if not routed and not self._open_count[rid]:
            return  # most events concern no runbook: skip building their key
        key = incident_key(compiled, event)
        incident = self._find_open(rid, key)
        before = len(self._fates)
        if incident is not None:
            self._incident_event(incident, event)
        elif event.status == "resolved" and self._held:
            self._drop_held(compiled, key, event, event.identity)
        if routed:
            self._detect(compiled, key, event)
        if incident is not None and len(self._fates) == before:
            self._note(event, "observed", rid, incident.id)

    def _refresh_fallback(self) -> None:
        # One fallback at most (`runbookd check` refuses a second): the first in load order.
        self._fallback = next(
            (rid for rid, c in self.runbooks.items() if c.runbook.detection.fallback), None
        )

    # --- triggers -------------------------------------------------------------------------

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
            self._note(
                event,
                "pending",
                compiled.runbook.id,
                until=self.clock.now() + trigger.within,
                trigger=compiled.runbook.trigger_id(index),
            )
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
            if len(window) < trigger.count:
                self._note(
                    event,
                    "counted",
                    rb.id,
                    trigger=rb.trigger_id(index),
                    count=len(window),
                    of=trigger.count,
                    within=format_duration(trigger.within),
                )
            else:
                counted = [e for _, e in window]
                del self._windows[(rb.id, index, key)]  # empty: the next event starts anew
                self._fire(compiled, index, key, event)  # the last one opens it (`alert`)
                for earlier in counted[:-1]:  # and every counted event is part of it
                    self._fire(compiled, index, key, earlier)
        elif kind == "for":
            assert trigger.for_ is not None
            name = f"for:{rb.id}:{index}:{key}"
            held = self.timers.get(name)
            if (
                self._find_open(rb.id, key) is not None
                or self._is_held(rb.id, key, event.identity) is not None
            ):
                # joins its open incident, or is suppressed again: it was held for long enough
                self._fire(compiled, index, key, event)
            else:
                # The first matching event arms the hold; later ones wait on the same timer.
                until = held.due if held is not None else now + trigger.for_
                self._note(event, "held", rb.id, until=until, trigger=rb.trigger_id(index))
                if held is None:
                    self._timer(
                        None,
                        name,
                        until,
                        kind="for",
                        runbook=rb.id,
                        trigger=index,
                        key=key,
                        event=event,
                    )
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
            self._note(event, "heartbeat", rb.id, until=now + trigger.within)
            if self._held:
                self._drop_held(compiled, key, None, held_name(index, None))
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
            inhibitor = self._inhibitor(compiled, key, event)
            if inhibitor is not None:
                self._suppress(inhibitor, compiled, index, key, event)
            else:
                self._open_incident(compiled, index, key, event)
        elif event is not None:
            self._attach(incident, event)

    def _sweep_windows(self, now: datetime) -> None:
        """Counting windows whose every event is older than the window hold nothing."""
        for window_key in list(self._windows):
            runbook, index, _ = window_key
            window = self._windows[window_key]
            compiled = self.runbooks.get(runbook)
            within = compiled.runbook.detection.triggers[index].within if compiled else None
            if within is None or not window or now - window[-1][0] >= within:
                del self._windows[window_key]

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
