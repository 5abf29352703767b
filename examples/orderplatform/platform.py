"""The platform: its state, the traffic that moves it, and the events it reports."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from examples.orderplatform.catalogue import CATALOGUE
from examples.orderplatform.faults import Faults
from examples.orderplatform.metrics import Metrics
from examples.orderplatform.payments import Payments

#: Something that takes an event for runbookd (the shape of ``POST /api/v1/events``).
EventSink = Callable[[dict[str, Any]], None]


def _drop(event: dict[str, Any]) -> None:
    """The sink when no runbookd is configured."""


class Platform:
    """All of the simulated platform's state; ``advance()`` is the only thing that moves time.

    Traffic is deterministic for a seed and a sequence of ``advance()`` calls, so tests drive it
    with explicit steps instead of waiting for a background loop.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        rate: float = 20.0,
        sink: EventSink = _drop,
        wallclock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if rate < 0:
            raise ValueError(f"rate must be >= 0 orders/s, got {rate!r}")
        self.rng = random.Random(seed)
        self.rate = rate
        self.sink = sink
        self.wallclock = wallclock
        self.metrics = Metrics()
        self.faults = Faults(CATALOGUE)
        self.payments = Payments(self.metrics, self.faults)
        self.elapsed = 0.0
        self._carry = 0.0
        self._next_order = 1
        self.payments.probe()

    def advance(self, seconds: float) -> int:
        """Simulate ``seconds`` of traffic at the configured rate; returns orders placed."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time ({seconds!r} s)")
        self.elapsed += seconds
        self._carry += self.rate * seconds
        count = int(self._carry)
        self._carry -= count
        for _ in range(count):
            self.place_order()
        self.payments.probe()
        return count

    def place_order(self) -> None:
        order_id = f"O{self._next_order:08d}"
        self._next_order += 1
        outcome = self.payments.pay(self.payments.choose(self.rng), self.rng)
        if outcome.ok:
            self.metrics.orders_created.inc()
        else:
            self.metrics.orders_failed.labels(reason="payment").inc()
        del order_id

    def emit(self, name: str, labels: dict[str, str], **fields: str | int | float) -> None:
        """Report a one-off event to runbookd (``source: orderplatform``)."""
        self.sink(
            {
                "name": name,
                "source": "orderplatform",
                "at": self.wallclock().isoformat(),
                "labels": labels,
                **fields,
            }
        )

    def fault_changed(self, name: str) -> None:
        """Let gauges that mirror state (probes) show a fault at once, not at the next tick."""
        self.payments.probe()
