"""Every metric the platform exports, in one registry per platform instance.

Names and labels follow ``docs/order-platform-signals.md``. Each label value of the contract's
closed sets is created at start, so every series exists at 0 before its first increment and
Prometheus's ``rate()`` sees the first failure.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from examples.orderplatform import labels as L


class Metrics:
    """The platform's business metrics (``orders_*``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # chapter 2: orders
        self.orders_created = Counter("orders_created", "Orders created successfully.", registry=r)
        self.orders_failed = Counter(
            "orders_failed", "Order creations that failed, by cause.", ["reason"], registry=r
        )
        # chapter 3: payments
        self.payment_attempts = Counter(
            "orders_payment_attempts",
            "Payment attempts, by the channel that processed them.",
            ["channel"],
            registry=r,
        )
        self.payment_failed = Counter(
            "orders_payment_failed",
            "Failed payments, by the channel that processed them.",
            ["channel"],
            registry=r,
        )
        self.channel_up = Gauge(
            "orders_payment_channel_up",
            "1 when the platform's probe of the channel succeeded, 0 when it failed.",
            ["channel"],
            registry=r,
        )
        for channel in L.CHANNELS:
            self.payment_attempts.labels(channel=channel)
            self.payment_failed.labels(channel=channel)
            self.channel_up.labels(channel=channel).set(1)
        for reason in L.ORDER_FAILURE_REASONS:
            self.orders_failed.labels(reason=reason)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample (0 when it does not exist)."""
        got = self.registry.get_sample_value(name, labels)
        return 0.0 if got is None else got
