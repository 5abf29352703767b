"""The circuit breaker: opens after consecutive failures, lets one trial through, closes on success."""

from __future__ import annotations

from runbookd.engine.breaker import Breakers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_recovers_through_one_trial() -> None:
    clock = Clock()
    breakers = Breakers(failures=3, open_for=30, clock=clock)
    for _ in range(2):
        assert breakers.refuse("pagerduty") is None
        breakers.record("pagerduty", ok=False)
    assert breakers.refuse("pagerduty") is None
    breakers.record("pagerduty", ok=False)  # the third in a row
    refused = breakers.refuse("pagerduty")
    assert refused is not None and "circuit open after 3 consecutive failures" in refused
    assert breakers.refuse("slack") is None  # one connector's outage is not another's
    clock.now = 31
    assert breakers.refuse("pagerduty") is None  # the trial call
    assert breakers.refuse("pagerduty") is not None  # only one at a time
    breakers.record("pagerduty", ok=False)
    assert breakers.refuse("pagerduty") is not None  # the trial failed: open again
    clock.now = 62
    assert breakers.refuse("pagerduty") is None
    breakers.record("pagerduty", ok=True)
    assert breakers.refuse("pagerduty") is None and breakers.open_circuits() == []


def test_a_success_resets_the_count_and_bad_requests_do_not_count() -> None:
    breakers = Breakers(failures=2, open_for=30, clock=Clock())
    breakers.record("http", ok=False)
    breakers.record("http", ok=True)
    breakers.record("http", ok=False)
    breakers.record("http", ok=False, counts=False)  # a 4xx: our request, not their outage
    assert breakers.refuse("http") is None
