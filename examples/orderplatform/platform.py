"""The platform: its domains (one per plan chapter), the traffic that moves them, its faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from examples.orderplatform.aftersales import Aftersales
from examples.orderplatform.cancellations import Cancellations
from examples.orderplatform.delivery import Delivery
from examples.orderplatform.impersonation import Impersonation
from examples.orderplatform.kernel import Domain, EventSink, Kernel
from examples.orderplatform.modifications import Modifications
from examples.orderplatform.orders import Orders
from examples.orderplatform.payments import Payments
from examples.orderplatform.returns import Returns
from examples.orderplatform.security import Security
from examples.orderplatform.shipping import Shipping

DOMAINS: tuple[type[Domain], ...] = (
    Payments,
    Orders,
    Cancellations,
    Modifications,
    Shipping,
    Delivery,
    Returns,
    Aftersales,
    Security,
    Impersonation,
)


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
        probe_interval: float = 15.0,
    ) -> None:
        if rate < 0:
            raise ValueError(f"rate must be >= 0 orders/s, got {rate!r}")
        catalogue = {spec.name: spec for cls in DOMAINS for spec in cls.faults}
        self.k = Kernel(seed=seed, rate=rate, sink=sink, wallclock=wallclock, catalogue=catalogue)
        self.payments = Payments(self.k, probe_interval)
        self.orders = Orders(self.k, self.payments)
        self.cancellations = Cancellations(self.k)
        self.modifications = Modifications(self.k)
        self.shipping = Shipping(self.k)
        self.delivery = Delivery(self.k)
        self.returns = Returns(self.k, self.payments)
        self.aftersales = Aftersales(self.k)
        self.security = Security(self.k)
        self.impersonation = Impersonation(self.k)
        self.domains: list[Domain] = [
            self.payments,
            self.orders,
            self.cancellations,
            self.modifications,
            self.shipping,
            self.delivery,
            self.returns,
            self.aftersales,
            self.security,
            self.impersonation,
        ]

    @property
    def metrics(self) -> Any:
        return self.k.metrics

    @property
    def faults(self) -> Any:
        return self.k.faults

    @property
    def elapsed(self) -> float:
        return self.k.elapsed

    @property
    def sink(self) -> EventSink:
        return self.k.sink

    @sink.setter
    def sink(self, sink: EventSink) -> None:
        self.k.sink = sink

    def advance(self, seconds: float) -> int:
        """Simulate ``seconds`` of traffic at the configured rate; returns orders submitted.

        Long spans are cut into steps of at most a second, so time-based effects (probes,
        overdue thresholds) land where they would in real time.
        """
        if seconds < 0:
            raise ValueError(f"cannot go back in time ({seconds!r} s)")
        placed = 0
        left = seconds
        while left > 0:
            dt = min(left, 1.0)
            left -= dt
            self.k.elapsed += dt
            for _ in range(self.k.due("orders", self.k.rate * dt)):
                self.orders.place()
                placed += 1
            for domain in self.domains:
                domain.step(dt)
        return placed

    def fault_changed(self, name: str) -> None:
        for domain in self.domains:
            domain.fault_changed(name)

    def routes(self, router: APIRouter) -> None:
        """Every domain's admin operations."""
        for domain in self.domains:
            domain.routes(router)
