"""Silences and maintenance windows in the engine -- ``Muting``.

Two effects, both decided on the engine's clock (never the wall clock), so a replay and every
replica decide alike:

* **No incident opens** for an alert a silence or window mutes at the moment the incident would
  open (``_muted_open``): the alert's outcome is ``silenced``, naming what muted it. Detection
  still sees the alert -- it counts in windows, starts ``for:`` holds, may resolve or join an
  incident already open -- only the opening is withheld. A hold or heartbeat that comes due
  inside a window opens nothing either.
* **Paging pauses** for an open incident whose firing alerts are all muted (``_paging_held``):
  an escalation deadline, a status update or a notification retry that comes due then is held
  until the mute ends, and fires then if the incident still needs it (the incident is paged
  late, never skipped). Pause and resumption are ``note`` lines on the timeline with the
  ``paging`` field, which the post-mortem reads back ("paging suppressed 02:00-03:00 by ...").

Expiring a silence or changing the windows looks again at once at every paused incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from runbookd.engine.commands import Command
from runbookd.engine.compiler import CompiledRunbook
from runbookd.engine.core import EngineCore
from runbookd.engine.errors import EngineError
from runbookd.engine.events import Event
from runbookd.engine.incident import Incident
from runbookd.engine.silences import Mute, SilenceError, Window, alert_labels
from runbookd.engine.timers import Timer

#: The timer kinds that page someone: held while an incident is muted.
PAGING_TIMERS = frozenset({"escalate", "status", "notify_retry"})


class Muting(EngineCore):
    """Mixed into ``Engine``: silences and windows, and what they keep from happening."""

    # --- inputs ---------------------------------------------------------------------------

    def silence(self, payload: Mapping[str, Any]) -> list[Command]:
        """A ``silence`` journal entry (add or expire); EngineError when it cannot apply."""
        self._out = []
        try:
            self.mutes.apply(payload, self.clock.now())
        except SilenceError as exc:
            raise EngineError(str(exc)) from None
        self._look_again()
        return self._flush()

    def set_windows(self, windows: Sequence[Window]) -> None:
        """The maintenance windows of the library entry now in force."""
        self.mutes.windows = tuple(windows)
        self._look_again()

    # --- hooks ----------------------------------------------------------------------------

    def _muted_open(self, compiled: CompiledRunbook, key: str, event: Event | None) -> bool:
        """True (and the event's fate noted) when a mute keeps this incident from opening."""
        if event is not None:
            labels = alert_labels(event.name, event.labels)
        else:  # a heartbeat that did not come: the labels its key names
            labels = dict(_key_labels(key))
        mute = self.mutes.find(labels, self.clock.now(), compiled.runbook.id)
        if mute is None:
            return False
        self._note(event, "silenced", compiled.runbook.id, until=mute.until, **_detail(mute))
        return True

    def _paging_held(self, incident: Incident, timer: Timer) -> bool:
        """True when ``timer`` (a paging one) must wait: it is armed again for the mute's end."""
        now = self.clock.now()
        mute = self._incident_mute(incident, now)
        if mute is None:
            if incident.paused is not None:
                self._emit(
                    "note",
                    incident,
                    text=f"paging resumed: {incident.paused['by']} ended",
                    paging="resumed",
                    since=incident.paused["since"],
                    muted_by=incident.paused["by"],
                )
                incident.paused = None
            return False
        if incident.paused is None or incident.paused["by"] != mute.describe():
            incident.paused = {"by": mute.describe(), "since": now.isoformat()}
            self._emit(
                "note",
                incident,
                text=f"paging paused: every firing alert is muted by {mute.describe()} "
                f"until {mute.until.isoformat()}",
                paging="paused",
                until=mute.until.isoformat(),
                muted_by=mute.describe(),
                **_detail(mute),
            )
        self._timer(incident, timer.name, mute.until, **timer.payload)
        return True

    # --- helpers --------------------------------------------------------------------------

    def _incident_mute(self, incident: Incident, now: datetime) -> Mute | None:
        """The mute of ``incident`` at ``now`` when every firing alert is muted (one of them,
        ending first); an incident with no firing alert is judged by its own labels."""
        firing = [
            alert_labels(str(info.get("name", "")), info.get("labels") or {})
            for ident, info in incident.alert_info.items()
            if incident.alerts.get(ident) == "firing"
        ]
        found: Mute | None = None
        for labels in firing or [dict(incident.labels)]:
            mute = self.mutes.find(labels, now, incident.runbook)
            if mute is None:
                return None
            if found is None or mute.until < found.until:
                found = mute
        return found

    def _look_again(self) -> None:
        """Bring every held paging timer forward to now: the next tick judges it afresh."""
        now = self.clock.now()
        for incident in self.incidents.values():
            if incident.paused is None or not incident.is_open:
                continue
            for timer in self.timers.live():
                if (
                    timer.due > now
                    and timer.payload.get("incident") == incident.id
                    and timer.payload.get("kind") in PAGING_TIMERS
                ):
                    self.timers.schedule(timer.name, now, **timer.payload)


def _detail(mute: Mute) -> dict[str, Any]:
    return {k: v for k, v in mute.to_dict().items() if k != "until"}


def _key_labels(key: str) -> list[tuple[str, str]]:
    out = []
    for part in filter(None, key.split(",")):
        name, _, value = part.partition("=")
        if name.startswith("labels."):
            out.append((name.removeprefix("labels."), value))
    return out
