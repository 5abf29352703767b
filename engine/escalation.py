"""Escalation: who is told, when, and again -- ``Escalation``.

A new incident notifies the first level; when a level's ``ack_within`` passes without an
acknowledgement the next level is notified, and after the last one the list starts over,
``repeat`` times. ``status_every`` notifies the current level again. A notification that failed
for a reason that may pass is sent again after ``NOTIFY_RETRY_DELAYS``; a permanent failure is
only recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runbookd.engine.core import EngineCore
from runbookd.engine.incident import Incident, Status
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.lang.model import Level
from runbookd.engine.oncall import ONCALL_KEYS
from runbookd.engine.timing import NOTIFY_RETRY_DELAYS


class Escalation(EngineCore):
    """Mixed into ``Engine``: escalation levels and the notifications they send."""

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
        call_id = f"{incident.id}:notify:{level.id}:{incident.cycle}:{len(incident.levels_reached)}"
        target = self._on_call(incident, level, now)
        if target is not None:
            who, extra = target
            context = incident.template_context(now, level={"id": level.id, "who": who}, **extra)
            self._call(
                incident,
                call_id,
                level.connector,
                level.params,
                context,
                role="notify",
                level=level.id,
                who=who,
                reason=reason,
                **({"oncall": extra["oncall"]} if extra else {}),
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

    def _on_call(
        self, incident: Incident, level: Level, now: datetime
    ) -> tuple[str | None, dict[str, Any]] | None:
        """Whom a level tells: its ``who``, or the person its schedule has on call ``now``.

        None when a schedule has nobody on call (or none is configured): that is noted on the
        timeline and nothing is sent; the level's deadline still runs, so the next level follows.
        """
        if level.schedule is None:
            return level.who, {}
        found = self.oncall(level.schedule, now) if self.oncall is not None else None
        if found is None:
            why = "no schedules are loaded" if self.oncall is None else "nobody is on call"
            self._emit(
                "note",
                incident,
                text=f"level {level.id}: schedule {level.schedule!r}: {why}; nobody was paged",
            )
            return None
        oncall = {key: found.get(key) for key in ONCALL_KEYS}
        return str(oncall["name"] or oncall["person"]), {"oncall": oncall}

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
            oncall=info.get("oncall"),
        )

    def _retry_notification(self, incident: Incident, p: dict[str, Any]) -> None:
        escalation = incident.compiled.runbook.escalation
        levels = escalation.levels if escalation is not None else []
        level = next((lv for lv in levels if lv.id == p["level"]), None)
        if level is None:
            return
        now = self.clock.now()
        # A retry tells the same person as the first attempt, even if a hand-off came between.
        oncall = p.get("oncall")
        who = str(oncall["name"] or oncall["person"]) if oncall else level.who
        extra = {"oncall": oncall} if oncall else {}
        self._call(
            incident,
            f"{p['first']}:attempt{p['attempt']}",  # a new call: the outbox keys on its id
            level.connector,
            level.params,
            incident.template_context(now, level={"id": level.id, "who": who}, **extra),
            role="notify",
            level=level.id,
            who=who,
            reason=p["reason"],
            first=p["first"],
            attempt=p["attempt"],
            **extra,
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
