"""Who is on call now, next, and over a window, as plain data for the API, CLI and page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from runbookd.oncall.lookup import describe
from runbookd.oncall.resolve import Resolver, Shift

HORIZON = timedelta(days=14)


def shift_view(resolver: Resolver, shift: Shift) -> dict[str, Any]:
    person = resolver.people.get(shift.person)
    return {
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
        "person": shift.person,
        "name": (person.name if person else None) or shift.person,
        "via": shift.via,
    }


def summary(resolver: Resolver, at: datetime, *, days: int = 14) -> dict[str, Any]:
    """One schedule at ``at``: who now (until when), who next, and the shifts of ``days`` days."""
    window = resolver.shifts(at, at + timedelta(days=days))
    found = resolver.who(at)
    now: dict[str, Any] | None = None
    if found is not None:
        now = describe(found)
        current = next((s for s in window if s.start <= at < s.end), None)
        now["until"] = current.end.isoformat() if current is not None else None
    upcoming = resolver.next_change(at, horizon=timedelta(days=days))
    schedule = resolver.schedule
    return {
        "id": schedule.id,
        "description": schedule.description,
        "time_zone": schedule.time_zone,
        "at": at.isoformat(),
        "now": now,
        "next": shift_view(resolver, upcoming) if upcoming is not None else None,
        "shifts": [shift_view(resolver, s) for s in window],
        "overrides": [
            {
                "id": c.id,
                "person": c.person,
                "start": c.start.isoformat(),
                "end": c.end.isoformat(),
                "reason": c.reason,
                "made": c.made.isoformat() if c.made else None,
            }
            for c in resolver.covers
            if c.removed is None and c.end > at
        ],
    }
