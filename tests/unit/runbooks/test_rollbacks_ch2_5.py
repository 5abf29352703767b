"""Rollbacks of the chapter 2-5 runbooks undo the right thing.

Scenario files cannot state expectations about a rollback call (a ``step`` expectation matches the
step's own call only), so these tests run the scenarios in which verification fails and read the
rollback calls from their timelines: which call was made, when, and with what parameters.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from runbookd.toolchain.scenario import ScenarioResult, run_scenario

SCENARIOS = Path(__file__).parents[3] / "tests" / "scenarios"


def _rollbacks(result: ScenarioResult) -> list[tuple[timedelta, str, dict[str, Any]]]:
    assert result.start is not None
    return [
        (c.at - result.start, str(c.data.get("step")), dict(c.data.get("params", {})))
        for c in result.timeline
        if c.kind == "run_step" and c.data.get("role") == "rollback"
    ]


@pytest.mark.parametrize(
    ("scenario", "step", "at", "params"),
    [
        # The standby gateway pool shares the fault: traffic goes back to the primary pool.
        (
            "03-payment-failed-failover-rolled-back.yaml",
            "failover_gateway",
            timedelta(minutes=12),
            {
                "method": "POST",
                "url": "http://127.0.0.1:8081/admin/payments/gateway/failover",
                "json": {"to": "primary"},
            },
        ),
        # The applied recount left drift behind: the stock levels it replaced are put back, by
        # the id the apply call returned (r-21), not the dry run's (r-20).
        (
            "05-stock-wrong-after-modification-rolled-back.yaml",
            "apply_recount",
            timedelta(minutes=38),
            {
                "method": "POST",
                "url": "http://127.0.0.1:8081/admin/stock/reconcile/undo",
                "json": {"reconcile_id": "r-21"},
            },
        ),
    ],
)
def test_failed_verification_rolls_back(
    scenario: str, step: str, at: timedelta, params: dict[str, Any]
) -> None:
    result = run_scenario(SCENARIOS / scenario)
    assert result.passed, [c.name for c in result.checks if not c.passed] + result.errors
    assert _rollbacks(result) == [(at, step, params)]


def test_verified_steps_are_not_rolled_back() -> None:
    for scenario in (
        "03-payment-failed-handled.yaml",
        "05-stock-wrong-after-modification-handled.yaml",
    ):
        result = run_scenario(SCENARIOS / scenario)
        assert result.passed, scenario
        assert _rollbacks(result) == [], scenario
