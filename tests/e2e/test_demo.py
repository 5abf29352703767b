"""The demo's core against real servers: platform, Prometheus, Alertmanager and runbookd.

A payment-channel outage injected into the simulated platform must be detected by the bundled
3.3 runbook through the real alert pipeline, fixed by switching to the backup channel (after an
approval), verified by the failure alert resolving, and resolved when the channel recovers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.demo.stack import Ports, Stack, binaries, free_port
from examples.demo.story import run_story
from tests.e2e.harness import Database

MISSING = [name for name, path in binaries().items() if path is None]


@pytest.mark.skipif(
    bool(MISSING),
    reason=f"not installed: {', '.join(MISSING)} (apt-get install prometheus prometheus-alertmanager)",
)
def test_payment_channel_outage_end_to_end(tmp_path: Path, database: Database) -> None:
    # runbookd on the suite's database: SQLite, or PostgreSQL when RUNBOOKD_TEST_DATABASE_URL is set.
    stack = Stack(tmp_path, Ports(platform=free_port()), database_url=database.url)
    narration: list[str] = []
    try:
        stack.start()
        story_began = datetime.now(UTC)
        outcome = run_story(stack, narration.append, timeout=90)
        story_ended = datetime.now(UTC)
        summary = httpx.get(
            f"{stack.ports.url('runbookd')}/api/v1/incidents/{outcome.incident['id']}/postmortem",
            params={"format": "json"},
            timeout=10,
        ).json()
        platform = stack.ports.url("platform")
        # The platform's state is what the runbook changed: alipay's payments go to backup.
        status = httpx.get(f"{platform}/admin/payments/channels/alipay", timeout=5).json()
        assert status["routed_to"] == "backup"
        assert status["status"] == "up"  # the fault is off again
        backup = httpx.get(f"{platform}/admin/payments/channels/backup", timeout=5).json()
        assert backup["attempts"] > 0
        assert backup["receives_from"] == ["alipay"]
    except BaseException:
        for name in stack.procs:
            print(f"----- {name} log -----\n{stack.log(name)[-3000:]}")
        raise
    finally:
        stack.stop()

    incident = outcome.incident
    assert incident["status"] in ("resolved", "closed")
    assert incident["labels"]["channel"] == "alipay"
    assert incident["severity"] == "critical"
    timeline = "\n".join(str(entry) for entry in incident["timeline"])
    assert "approved by demo" in timeline
    assert "verified by 'PaymentFailureRateHigh' (resolved)" in timeline
    assert "switch_channel -> ok" in timeline
    assert "INC-" in outcome.approve_output and "approved" in outcome.approve_output
    assert outcome.postmortem.startswith("#")
    assert incident["id"] in outcome.postmortem
    # Seconds, not minutes: the demo's short windows are what make it watchable.
    assert outcome.timings["incident_opened"] < 30
    assert outcome.timings["resolved"] < 90
    assert any("opened INC-" in line for line in narration)

    check_postmortem_matches(summary, incident, story_began, story_ended)


def at(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_postmortem_matches(
    summary: dict[str, Any], incident: dict[str, Any], began: datetime, ended: datetime
) -> None:
    """The post-mortem's figures are what happened: the incident's own times, inside the story."""
    assert summary["final"] is True
    timings = summary["timings"]
    detected, resolved = at(timings["detected"]), at(timings["resolved"])
    assert detected == at(incident["opened_at"])
    assert resolved == at(incident["resolved_at"])
    assert began < detected < resolved < ended
    assert abs(timings["time_to_resolve"] - (resolved - detected).total_seconds()) < 0.01
    alerts = {a["name"]: a for a in summary["alerts"]}
    assert {"PaymentFailureRateHigh", "PaymentChannelProbeFailed"} <= set(alerts)
    # The incident opened on the second of the two correlated alerts: the first came earlier.
    assert min(at(a["first"]) for a in alerts.values()) <= detected
    [approval] = [a for a in summary["approvals"] if a["step"] == "switch_channel"]
    assert (approval["decision"], approval["by"]) == ("approved", "demo")
    steps = {s["id"]: s for s in summary["steps"]}
    switch = steps["switch_channel"]
    assert switch["outcome"] == "ok"
    assert (
        detected <= at(approval["requested"]) <= at(approval["decided"]) <= at(switch["finished"])
    )
    assert at(switch["finished"]) <= resolved
    impact = {f["id"]: f for f in summary["impact"]}
    assert impact["failed_payments"]["value"] is not None  # measured in the real Prometheus
    assert "alipay" in impact["failed_payments"]["query"]
