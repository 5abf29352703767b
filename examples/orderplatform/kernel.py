"""What every part of the platform shares: randomness, metrics, faults, time, events, refusals.

Each chapter of the plan is one ``Domain`` (orders, payments, cancellations, ...). A domain owns
its state and metrics, moves with the traffic in ``step(dt)``, and offers admin routes.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter

from examples.orderplatform.faults import Faults, FaultSpec
from examples.orderplatform.metrics import Metrics

#: Something that takes an event for runbookd (the shape of ``POST /api/v1/events``).
EventSink = Callable[[dict[str, Any]], None]
T = TypeVar("T")


class Conflict(Exception):
    """The platform's state forbids the operation: HTTP 409 ``{"error": code, "detail": ...}``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class NotFound(Exception):
    """An unknown name in a path or body: HTTP 404."""


class Kernel:
    """The shared machinery the domains use; ``elapsed`` is simulated seconds since start."""

    def __init__(
        self,
        *,
        seed: int,
        rate: float,
        sink: EventSink,
        wallclock: Callable[[], datetime],
        catalogue: dict[str, FaultSpec],
    ) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.sink = sink
        self.wallclock = wallclock
        self.metrics = Metrics()
        self.faults = Faults(catalogue)
        self.elapsed = 0.0
        self._carry: dict[str, float] = {}
        self._ids: dict[str, int] = {}
        self._cumulative: dict[tuple[float, ...], list[float]] = {}
        self._started = wallclock()
        self._run = f"{self._started.timestamp():.0f}"
        self._events = 0

    def due(self, key: str, expected: float) -> int:
        """How many of something happen now, given ``expected`` (a fraction carries over).

        Keeping the fraction per ``key`` makes low rates exact over time: 0.3 per step gives
        3 in 10 steps, never 0 forever nor a random burst.
        """
        total = self._carry.get(key, 0.0) + max(expected, 0.0)
        count = int(total + 1e-9)  # 60 x (6/60) is 5.9999...: still six
        self._carry[key] = total - count
        return count

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def pick(self, values: Sequence[T], weights: tuple[float, ...] | None = None) -> T:
        """One of ``values``; the simulator's hottest call, so no ``random.choices``."""
        if weights is None:
            return values[int(self.rng.random() * len(values))]
        cumulative = self._cumulative.get(weights)
        if cumulative is None:
            cumulative = self._cumulative[weights] = list(itertools.accumulate(weights))
        return values[bisect.bisect(cumulative, self.rng.random() * cumulative[-1])]

    def new_id(self, prefix: str) -> str:
        self._ids[prefix] = self._ids.get(prefix, 0) + 1
        return f"{prefix}-{self._ids[prefix]}"

    def fault(self, name: str, **match: str) -> dict[str, Any] | None:
        """The fault's parameters when it is on and its parameters include ``match``."""
        params = self.faults.active.get(name)  # per order, many times: no method call
        if params is None or any(params.get(k) != v for k, v in match.items()):
            return None
        return params

    def iso(self, later: float = 0.0) -> str:
        """The wall-clock time of the simulated moment (start + elapsed), plus ``later`` s."""
        moment = self._started + timedelta(seconds=self.elapsed + later)
        return moment.astimezone(UTC).isoformat()

    def emit(self, name: str, labels: dict[str, str], **fields: str | int | float) -> None:
        """Report a one-off event to runbookd (``source: orderplatform``)."""
        self._events += 1
        self.sink(
            {
                "name": name,
                "source": "orderplatform",
                "at": self.wallclock().isoformat(),
                # Unique per event (and per platform start), so that runbookd's de-duplication
                # keeps two one-off events with equal labels at the same instant apart, while a
                # retried delivery of the same event is still recognised.
                "fingerprint": f"op-{self._run}-{self._events}",
                "labels": labels,
                **fields,
            }
        )


class Domain:
    """One chapter of the platform. Subclasses set ``faults`` and override what they need."""

    faults: tuple[FaultSpec, ...] = ()

    def __init__(self, k: Kernel) -> None:
        self.k = k

    def step(self, dt: float) -> None:
        """Move ``dt`` simulated seconds of this domain's traffic."""

    def fault_changed(self, name: str) -> None:
        """A fault was switched on or off (gauges that mirror state update at once)."""

    def routes(self, router: APIRouter) -> None:
        """Add this domain's admin operations to ``router`` (prefix ``/admin``)."""


def require(value: str, allowed: Sequence[str], what: str) -> str:
    """``value`` when it is in the closed set, else NotFound naming the set."""
    if value not in allowed:
        raise NotFound(f"no {what} {value!r} (known: {', '.join(allowed)})")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def duration(text: str, what: str = "since") -> float:
    """Seconds of a duration such as ``90s``, ``15m``, ``1h`` or ``7d`` (NotFound-free: 422)."""
    unit = text[-1:] if text else ""
    if unit not in _UNITS or not text[:-1].isdigit():
        raise BadRequest(f"{what}: expected a duration such as 30m, 1h or 7d, got {text!r}")
    return int(text[:-1]) * _UNITS[unit]


class BadRequest(Exception):
    """A value the route's model cannot check by itself: HTTP 422."""
