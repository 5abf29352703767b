"""Who is on call: layers in order, overrides on top, as a pure function of an instant.

Overrides made at run time (``runbookd oncall override``, the API) carry the instant they were
made and, once removed, the instant they were removed. An answer "as known at" an instant uses
only the overrides that existed then, so the engine resolving a page at its clock's time gets
the same person in a replay, however many overrides were added since.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from runbookd.oncall.model import Person, Schedule
from runbookd.oncall.rotation import LayerTurns
from runbookd.oncall.wallclock import aware

#: a resolution says which layer answered, or this for an override
OVERRIDE = "override"


@dataclass(frozen=True)
class Cover:
    """An override: ``person`` from ``start`` to ``end``, existing from ``made`` to ``removed``."""

    person: str
    start: datetime
    end: datetime
    reason: str | None = None
    made: datetime | None = None  # None: written in the schedule file, always known
    removed: datetime | None = None
    id: str | None = None

    def known_at(self, moment: datetime | None) -> bool:
        if moment is None:
            return self.removed is None
        made_ok = self.made is None or self.made <= moment
        return made_ok and (self.removed is None or self.removed > moment)


@dataclass(frozen=True)
class Shift:
    """``person`` on call in [start, end), through ``via`` (a layer id or ``override``)."""

    start: datetime
    end: datetime
    person: str
    via: str


@dataclass(frozen=True)
class OnCall:
    schedule: str
    person: str
    via: str
    contact: Person


class Resolver:
    """One schedule with its people and its run-time overrides, ready to answer."""

    def __init__(
        self, schedule: Schedule, people: dict[str, Person], covers: Iterable[Cover] = ()
    ) -> None:
        self.schedule = schedule
        self.people = people
        tz = schedule.zone
        self.layers = tuple(LayerTurns.of(layer, tz) for layer in schedule.layers)
        static = [
            Cover(o.person, aware(o.start, tz), aware(o.end, tz), o.reason)
            for o in schedule.overrides
        ]
        # Later wins: file overrides in file order, then run-time ones in the order they came.
        self.covers: tuple[Cover, ...] = (*static, *covers)

    def with_covers(self, covers: Iterable[Cover]) -> Resolver:
        return Resolver(self.schedule, self.people, covers)

    def _live(self, known_at: datetime | None) -> Sequence[Cover]:
        return [c for c in self.covers if c.known_at(known_at)]

    def who(self, moment: datetime, *, known_at: datetime | None = None) -> OnCall | None:
        """Who is on call at ``moment`` (aware), with the overrides known at ``known_at``.

        ``known_at`` None means every override not removed (what a person asking now sees).
        """
        found = self._who(moment, self._live(known_at))
        if found is None:
            return None
        person, via = found
        return OnCall(self.schedule.id, person, via, self.people.get(person, Person()))

    def _who(self, moment: datetime, covers: Sequence[Cover]) -> tuple[str, str] | None:
        for cover in reversed(covers):
            if cover.start <= moment < cover.end:
                return cover.person, OVERRIDE
        for layer in self.layers:
            person = layer.person_at(moment)
            if person is not None:
                return person, layer.id
        return None

    def shifts(
        self, start: datetime, end: datetime, *, known_at: datetime | None = None
    ) -> list[Shift]:
        """The on-call timeline over [start, end): back-to-back shifts, gaps left out."""
        covers = self._live(known_at)
        edges = {start, end}
        for layer in self.layers:
            edges.update(layer.edges(start, end))
        edges.update(t for c in covers for t in (c.start, c.end) if start < t < end)
        points = sorted(edges)
        out: list[Shift] = []
        # The answer is constant between consecutive edges, so asking at each edge is exact.
        for a, b in itertools.pairwise(points):
            found = self._who(a, covers)
            if found is None:
                continue
            person, via = found
            last = out[-1] if out else None
            if last is not None and last.end == a and (last.person, last.via) == found:
                out[-1] = Shift(last.start, b, person, via)
            else:
                out.append(Shift(a, b, person, via))
        return out

    def next_change(
        self, moment: datetime, *, horizon: timedelta = timedelta(days=14)
    ) -> Shift | None:
        """The first shift after ``moment`` with someone else (or after a gap) on call."""
        now = self.who(moment)
        for shift in self.shifts(moment, moment + horizon):
            if shift.start > moment and (now is None or shift.person != now.person):
                return shift
        return None
