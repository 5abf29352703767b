"""The platform's metrics registry: one per platform instance, series created up front.

Names and labels follow ``docs/order-platform-signals.md``. Every combination of a metric's
closed label sets is created at start, so each series exists at 0 before its first increment and
Prometheus's ``rate()`` sees the first failure.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Family:
    """A metric whose labelled children are cached: the traffic asks for them per order, and
    the client library's own ``labels()`` lookup is the simulator's hottest code otherwise."""

    def __init__(self, metric: Counter | Gauge) -> None:
        self.metric = metric
        self._children: dict[tuple[tuple[str, str], ...], Any] = {}

    def labels(self, **labels: str) -> Any:
        key = tuple(labels.items())
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.metric.labels(**labels)
        return child

    def inc(self, amount: float = 1.0) -> None:
        self.metric.inc(amount)

    def set(self, value: float) -> None:
        self.metric.set(value)  # type: ignore[union-attr]  # only on unlabelled gauges


class Metrics:
    """A registry plus helpers that pre-create the closed label sets."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()

    def counter(self, name: str, doc: str, **labels: Sequence[str]) -> Family:
        """A counter ``name`` (without ``_total``: the client adds it)."""
        return self._family(Counter(name, doc, list(labels), registry=self.registry), labels)

    def gauge(self, name: str, doc: str, **labels: Sequence[str]) -> Family:
        return self._family(Gauge(name, doc, list(labels), registry=self.registry), labels)

    @staticmethod
    def _family(metric: Counter | Gauge, labels: dict[str, Sequence[str]]) -> Family:
        family = Family(metric)
        if labels:
            for combo in itertools.product(*labels.values()):
                family.labels(**dict(zip(labels, combo, strict=True)))
        return family

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
