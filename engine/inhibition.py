"""Inhibition between runbooks: ``detection.inhibited_by`` -- ``Inhibition``.

The plan's failures cause each other: a database failure (10.3) or a crashed host (10.1) makes
order creation, payments and cancellations fail. While an incident of an inhibiting runbook is
open (and the ``equal`` labels match), a firing that would open an incident of the inhibited
runbook opens nothing and pages nobody: the event's outcome is ``suppressed`` naming the
inhibiting incident, the inhibitor's timeline gets a ``suppress`` entry, and the firing is kept
as a ``Held`` alert. When the inhibitor resolves, each held alert that is still firing (no
resolved copy came, its ``endsAt`` has not passed) fires again and opens its incident then, with
a note saying why it is late; one still covered by another open inhibitor moves to that one.

Only opening is inhibited. An incident that was already open when the inhibitor opened keeps
collecting its alerts: people are working on it, and hiding alerts from it would let it resolve
on ``on_alerts_resolved`` while its failure goes on.

Every decision reads only the engine's state and the current input on the engine's clock, so a
replay of the journal, or a follower, suppresses and releases exactly the same alerts.
"""

from __future__ import annotations

from runbookd.engine.compiler import CompiledRunbook
from runbookd.engine.core import EngineCore
from runbookd.engine.events import Event
from runbookd.engine.held import Held, held_name
from runbookd.engine.incident import Incident


class Inhibition(EngineCore):
    """Mixed into ``Engine``: suppress the firings of inhibited runbooks, release them later."""

    def _inhibitor(
        self, compiled: CompiledRunbook, key: str, event: Event | None
    ) -> Incident | None:
        """The open incident that inhibits opening ``compiled``'s incident for ``key`` now, if
        any: the first rule in declaration order, the earliest-opened of its incidents."""
        for rule in compiled.runbook.detection.inhibited_by:
            if not self._open_count[rule.runbook]:
                continue
            for (rid, _), incident_id in self._open.items():
                if rid != rule.runbook:
                    continue
                incident = self.incidents[incident_id]
                if all(
                    _label(incident.labels, path) == _side(event, key, path) for path in rule.equal
                ):
                    return incident
        return None

    def _suppress(
        self,
        inhibitor: Incident,
        compiled: CompiledRunbook,
        index: int,
        key: str,
        event: Event | None,
    ) -> None:
        rid = compiled.runbook.id
        name = held_name(index, event)
        self._note(event, "suppressed", rid, inhibitor.id, by_runbook=inhibitor.runbook)
        held = self._held.setdefault(inhibitor.id, {})
        earlier = held.get((rid, key, name))
        if event is not None and event.kind != "alert":
            # A generic event is a moment, not a state: nothing can say later that it still
            # holds, so it is recorded (outcome and the inhibitor's timeline) and not kept.
            pass
        else:
            held[(rid, key, name)] = Held(
                rid, index, key, event, earlier.since if earlier else self.clock.now()
            )
        if earlier is None:  # a repeat of a held alert is not news on the timeline
            self._emit(
                "suppress",
                inhibitor,
                suppressed_runbook=rid,
                key=key,
                trigger=compiled.runbook.trigger_id(index),
                event=event.name if event is not None else None,
                identity=name,
                kept=bool(event is None or event.kind == "alert"),
            )

    def _is_held(self, runbook: str, key: str, name: str) -> str | None:
        """The inhibitor holding this firing back, if one is."""
        for inhibitor, held in self._held.items():
            if (runbook, key, name) in held:
                return inhibitor
        return None

    def _drop_held(
        self, compiled: CompiledRunbook, key: str, event: Event | None, name: str
    ) -> None:
        """The held firing stopped: a resolved copy of the alert came, or the heartbeat an
        ``absent`` trigger waited for. It will open nothing when its inhibitor resolves."""
        rid = compiled.runbook.id
        inhibitor = self._is_held(rid, key, name)
        if inhibitor is None:
            return
        del self._held[inhibitor][(rid, key, name)]
        by_runbook = self.incidents[inhibitor].runbook
        self._note(event, "suppressed", rid, inhibitor, by_runbook=by_runbook, resolved=True)

    def _release(self, inhibitor: Incident) -> None:
        """The inhibitor resolved: what it held back opens now, if it still fires."""
        held = self._held.pop(inhibitor.id, None)
        if not held:
            return
        now = self.clock.now()
        opened, ended, moved = 0, 0, 0
        for item in held.values():
            compiled = self.runbooks.get(item.runbook)
            if compiled is None or item.trigger >= len(compiled.runbook.detection.triggers):
                ended += 1  # its runbook or trigger went away in a reload
                continue
            event = item.event
            if event is not None and event.ends_at is not None and event.ends_at <= now:
                ended += 1  # the sender said when it would end, and that has passed
                continue
            other = self._inhibitor(compiled, item.key, event)
            if other is not None:
                moved += 1
                self._held.setdefault(other.id, {})[
                    (item.runbook, item.key, held_name(item.trigger, event))
                ] = item
                continue
            opened += 1
            late = self._find_open(item.runbook, item.key)
            if late is not None and event is not None:
                # as if it arrived now for the open incident: raise rules see it (engine.detection)
                self._incident_event(late, event)
            self._fire(compiled, item.trigger, item.key, event)
            if late is None and (late := self._find_open(item.runbook, item.key)) is not None:
                self._emit(
                    "note",
                    late,
                    text=(
                        f"opened late: {event.name if event else 'its trigger'} was suppressed by "
                        f"{inhibitor.id} ({inhibitor.runbook}) from {item.since.isoformat()} "
                        f"until it resolved; it is still firing"
                    ),
                    suppressed_by=inhibitor.id,
                    suppressed_since=item.since.isoformat(),
                )
        self._emit(
            "note",
            inhibitor,
            text=(
                f"released {len(held)} suppressed alert(s): {opened} fire again now, "
                f"{moved} stay suppressed by another open incident, {ended} ended meanwhile"
            ),
            released=len(held),
        )


def _label(labels: dict[str, str], path: str) -> str:
    return labels.get(path.removeprefix("labels."), "")


def _side(event: Event | None, key: str, path: str) -> str:
    """The value of ``labels.X`` on the inhibited side: the alert's, else the incident key's."""
    if event is not None:
        value = event.get(path)
        return "" if value is None else str(value)
    for part in key.split(","):
        name, _, value = part.partition("=")
        if name == path:
            return value
    return ""
