"""runbookd_alerts_unmatched_total: firing unmatched alerts by alertname, with a bounded label."""

from __future__ import annotations

from datetime import UTC, datetime

from runbookd.engine.commands import Command
from runbookd.service.metrics import Metrics
from runbookd.service.outcomes import OVERFLOW, UNMATCHED_NAMES_CAP, UnmatchedCounter

AT = datetime(2026, 12, 7, tzinfo=UTC)


def outcome(name: str, outcome: str = "unmatched", status: str = "firing") -> Command:
    return Command("alert_outcome", AT, data={"event": name, "outcome": outcome, "status": status})


def value(metrics: Metrics, name: str) -> float:
    got = metrics.registry.get_sample_value("runbookd_alerts_unmatched_total", {"alertname": name})
    return got or 0.0


def test_counts_firing_unmatched_alerts_by_name() -> None:
    metrics = Metrics()
    counter = UnmatchedCounter(metrics.alerts_unmatched)
    counter.observe(
        [
            outcome("HostSwapIsFillingUp"),
            outcome("HostSwapIsFillingUp"),
            outcome("HostSwapIsFillingUp", status="resolved"),  # its end is not a second alert
            outcome("PaymentFailureRateHigh", outcome="opened"),
        ]
    )
    assert value(metrics, "HostSwapIsFillingUp") == 2
    assert value(metrics, "PaymentFailureRateHigh") == 0


def test_names_past_the_documented_cap_share_one_series() -> None:
    assert UNMATCHED_NAMES_CAP == 200  # the figure docs/operations.md gives
    metrics = Metrics()
    counter = UnmatchedCounter(metrics.alerts_unmatched)
    counter.observe(outcome(f"Rule{n}") for n in range(UNMATCHED_NAMES_CAP + 5))
    counter.observe([outcome("Rule0"), outcome("Rule9999")])
    series = {
        s.labels["alertname"]
        for m in metrics.registry.collect()
        for s in m.samples
        if s.name == "runbookd_alerts_unmatched_total"
    }
    assert len(series) == UNMATCHED_NAMES_CAP + 1
    assert value(metrics, OVERFLOW) == 6 and value(metrics, "Rule0") == 2
