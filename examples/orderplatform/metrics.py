"""The platform's metrics registry: one per platform instance, series created up front.

Names and labels follow ``docs/order-platform-signals.md``. Every combination of a metric's
closed label sets is created at start, so each series exists at 0 before its first increment and
Prometheus's ``rate()`` sees the first failure.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    """A registry plus helpers that pre-create the closed label sets."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()

    def counter(self, name: str, doc: str, **labels: Sequence[str]) -> Counter:
        """A counter ``name`` (without ``_total``: the client adds it)."""
        metric = Counter(name, doc, list(labels), registry=self.registry)
        for combo in itertools.product(*labels.values()):
            if combo:
                metric.labels(*combo)
        return metric

    def gauge(self, name: str, doc: str, **labels: Sequence[str]) -> Gauge:
        metric = Gauge(name, doc, list(labels), registry=self.registry)
        for combo in itertools.product(*labels.values()):
            if combo:
                metric.labels(*combo)
        return metric

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """The current value of one sample (0 when it does not exist)."""
        got = self.registry.get_sample_value(name, labels)
        return 0.0 if got is None else got

    def total(self, name: str, **labels: str) -> float:
        """The sum over every series of ``name`` whose labels include ``labels``."""
        total = 0.0
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total
