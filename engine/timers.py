"""Service-owned timers: a heap keyed by name, so timers can be listed, replaced and cancelled.

durable_rules' own timers have whole-second precision, fire up to a second early and dispatch
about five per second; runbookd keeps its own and feeds each expiry into the engine as an input.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Cancelled timers left in the heap beyond the live ones before the heap is rebuilt.
COMPACT_SLACK = 64


@dataclass(frozen=True, order=True)
class Timer:
    due: datetime
    seq: int
    name: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False, default_factory=dict)


class TimerQueue:
    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._live: dict[str, Timer] = {}
        self._seq = itertools.count()

    def schedule(self, name: str, due: datetime, **payload: Any) -> Timer:
        """Arm ``name`` for ``due``, replacing any timer of the same name."""
        timer = Timer(due, next(self._seq), name, payload)
        self._live[name] = timer
        heapq.heappush(self._heap, timer)
        self._compact()  # a replaced timer leaves its old entry behind
        return timer

    def cancel(self, name: str) -> bool:
        if self._live.pop(name, None) is None:
            return False
        self._compact()
        return True

    def cancel_prefix(self, prefix: str) -> list[str]:
        names = [n for n in self._live if n.startswith(prefix)]
        for name in names:
            del self._live[name]
        self._compact()
        return names

    def __len__(self) -> int:
        """Live timers."""
        return len(self._live)

    def held(self) -> int:
        """Entries in the heap, cancelled ones not yet dropped included."""
        return len(self._heap)

    def get(self, name: str) -> Timer | None:
        return self._live.get(name)

    def next_due(self) -> datetime | None:
        self._drop_stale()
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: datetime) -> Timer | None:
        """The earliest live timer due at or before ``now``, removed; None when none is due."""
        self._drop_stale()
        if self._heap and self._heap[0].due <= now:
            timer = heapq.heappop(self._heap)
            del self._live[timer.name]
            return timer
        return None

    def live(self) -> list[Timer]:
        return sorted(self._live.values())

    # Pickling (engine snapshots): only the live timers and the next sequence number matter.
    # Stale heap entries are dropped, and ``itertools.count`` is not pickled (its pickle support
    # is deprecated); the heap is rebuilt with the same (due, seq) keys, so the same order.
    def __getstate__(self) -> dict[str, Any]:
        following = next(self._seq)
        self._seq = itertools.count(following)
        return {"live": list(self._live.values()), "seq": following}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._live = {timer.name: timer for timer in state["live"]}
        self._heap = list(self._live.values())
        heapq.heapify(self._heap)
        self._seq = itertools.count(state["seq"])

    def _compact(self) -> None:
        # Cancelling only forgets the name; the entry stays in the heap until it comes due. A
        # resolved incident cancels deadlines minutes or hours ahead (acknowledgement,
        # escalation, verification), so at a steady rate of incidents the heap would hold every
        # incident of the longest deadline with its payload. Rebuilding once the dead entries
        # outnumber the live ones keeps the heap within twice the live timers, at O(1) amortised.
        if len(self._heap) > 2 * len(self._live) + COMPACT_SLACK:
            self._heap = list(self._live.values())
            heapq.heapify(self._heap)

    def _drop_stale(self) -> None:
        while self._heap and self._live.get(self._heap[0].name) is not self._heap[0]:
            heapq.heappop(self._heap)
