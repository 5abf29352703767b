"""Schedules as the engine's ``OnCallLookup``: (schedule id, instant) -> who, with contact."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from runbookd.engine.oncall import OnCallLookup
from runbookd.oncall.loader import ScheduleLibrary
from runbookd.oncall.resolve import Cover, OnCall, Resolver


def describe(found: OnCall) -> dict[str, Any]:
    """The ``oncall`` mapping a level's templates and the timeline see."""
    c = found.contact
    return {
        "schedule": found.schedule,
        "person": found.person,
        "name": c.name or found.person,
        "via": found.via,
        "email": c.email,
        "slack": c.slack,
        "pagerduty": c.pagerduty,
        "phone": c.phone,
    }


class Directory:
    """Every schedule's resolver, and the run-time overrides, swapped whole under a lock.

    The engine thread asks, API threads replace overrides: a resolver is never changed in
    place, only replaced, so a reader sees one consistent version.
    """

    def __init__(self, library: ScheduleLibrary, covers: Iterable[tuple[str, Cover]] = ()) -> None:
        self._lock = threading.Lock()
        self.library = library
        self._resolvers: dict[str, Resolver] = {}
        self.set_covers(covers)

    def set_covers(self, covers: Iterable[tuple[str, Cover]]) -> None:
        by_schedule: dict[str, list[Cover]] = {}
        for schedule_id, cover in covers:
            by_schedule.setdefault(schedule_id, []).append(cover)
        fresh = {
            sid: Resolver(s, self.library.people, by_schedule.get(sid, ()))
            for sid, s in self.library.schedules.items()
        }
        with self._lock:
            self._resolvers = fresh

    def resolvers(self) -> Mapping[str, Resolver]:
        with self._lock:
            return self._resolvers

    def resolver(self, schedule_id: str) -> Resolver | None:
        return self.resolvers().get(schedule_id)

    def find(self, schedule_id: str, moment: datetime) -> dict[str, Any] | None:
        """The engine's question: overrides count only from the instant they were made."""
        resolver = self.resolver(schedule_id)
        found = resolver.who(moment, known_at=moment) if resolver is not None else None
        return describe(found) if found is not None else None

    def lookup(self) -> OnCallLookup:
        return self.find
