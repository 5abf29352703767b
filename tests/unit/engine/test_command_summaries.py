"""The one-line summaries the timeline shows people (API, CLI, web page)."""

from __future__ import annotations

from datetime import UTC, datetime

from runbookd.engine.commands import Command

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_step_result_names_its_attempt() -> None:
    done = Command(
        "call_done",
        AT,
        "INC-1",
        data={
            "role": "step",
            "step": "switch_channel",
            "connector": "http",
            "attempt": 2,
            "outcome": "ok",
            "seconds": 0.25,
        },
    )
    assert done.detail() == "step switch_channel via http attempt 2: ok in 0.250s"


def test_a_notification_result_has_no_attempt_to_name() -> None:
    done = Command(
        "call_done",
        AT,
        "INC-1",
        data={
            "role": "notify",
            "step": "payments-oncall",
            "connector": "pagerduty",
            "outcome": "failed",
            "seconds": 0.0,
            "error": "PD_PAYMENTS_KEY is not set",
        },
    )
    assert done.detail() == (
        "notify payments-oncall via pagerduty: failed in 0.000s (PD_PAYMENTS_KEY is not set)"
    )
