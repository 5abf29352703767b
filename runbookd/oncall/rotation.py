"""One layer's turns: hand-off instants, whose turn it is, and restriction windows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from runbookd.oncall.model import DAYS, Layer
from runbookd.oncall.wallclock import instant, local


@dataclass(frozen=True)
class Turns:
    """Hand-off ``n`` is at local ``anchor + n * step``: steps are wall-clock, not elapsed.

    A weekly rotation handing off at 09:00 does so at 09:00 local before and after a DST change,
    so that week's turn is an hour shorter or longer; turns stay back to back either way.
    """

    anchor: datetime  # naive local
    step: timedelta
    tz: ZoneInfo

    def handoff(self, n: int) -> datetime:
        return instant(self.anchor + n * self.step, self.tz)

    def index_at(self, moment: datetime) -> int | None:
        """The number of the turn running at ``moment``; None before the first hand-off."""
        n = (local(moment, self.tz) - self.anchor) // self.step
        # The wall-clock estimate is off by at most one turn around a DST change; settle it on
        # instants. The loops also step over a turn of zero length.
        while self.handoff(n) > moment:
            n -= 1
        while self.handoff(n + 1) <= moment:
            n += 1
        return n if n >= 0 else None

    def handoffs(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Hand-off instants strictly inside (start, end)."""
        n = max((local(start, self.tz) - self.anchor) // self.step - 1, 0)
        while (at := self.handoff(n)) < end:
            if at > start:
                yield at
            n += 1


@dataclass(frozen=True)
class Window:
    weekdays: frozenset[int]
    start: time
    end: time  # before start: the window ends the next day

    def spans(
        self, first: datetime, last: datetime, tz: ZoneInfo
    ) -> Iterator[tuple[datetime, datetime]]:
        """The (start, end) instants of every window opening on a local day near [first, last]."""
        day = local(first, tz).date() - timedelta(days=1)
        stop = local(last, tz).date() + timedelta(days=1)
        while day <= stop:
            if day.weekday() in self.weekdays:
                end_day = day if self.end > self.start else day + timedelta(days=1)
                yield (
                    instant(datetime.combine(day, self.start), tz),
                    instant(datetime.combine(end_day, self.end), tz),
                )
            day += timedelta(days=1)


@dataclass(frozen=True)
class LayerTurns:
    """A layer ready to answer: its turns, members and windows in the schedule's zone."""

    id: str
    turns: Turns
    members: tuple[str, ...]
    windows: tuple[Window, ...]

    @classmethod
    def of(cls, layer: Layer, tz: ZoneInfo) -> LayerTurns:
        rot = layer.rotation
        windows = tuple(
            Window(frozenset(DAYS.index(d) for d in r.days), r.from_, r.to)
            for r in layer.restrictions
        )
        anchor = datetime.combine(rot.start, rot.handoff)
        return cls(layer.id, Turns(anchor, rot.length, tz), tuple(layer.members), windows)

    def within_windows(self, moment: datetime) -> bool:
        if not self.windows:
            return True
        tz = self.turns.tz
        return any(s <= moment < e for w in self.windows for s, e in w.spans(moment, moment, tz))

    def person_at(self, moment: datetime) -> str | None:
        if not self.within_windows(moment):
            return None
        n = self.turns.index_at(moment)
        return None if n is None else self.members[n % len(self.members)]

    def edges(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every instant in (start, end) at which this layer's answer may change."""
        yield from self.turns.handoffs(start, end)
        for window in self.windows:
            for s, e in window.spans(start, end, self.turns.tz):
                yield from (t for t in (s, e) if start < t < end)
