"""A scenario's approval is checked like a logged-in user's: the bundled database runbook's
``end_idle_sessions`` needs a member of team dba, so a decision without it stops the timeline
with the reason, one with it (or by an admin) goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbookd.toolchain.scenario import run_scenario

REPO = Path(__file__).parents[3]
SCENARIO = REPO / "tests" / "scenarios" / "10-database-lag-stays.yaml"
RUNBOOK = REPO / "runbooks" / "10-database" / "database-abnormal.yaml"


def _run(tmp_path: Path, decision: str) -> list[str]:
    text = SCENARIO.read_text()
    text = text.replace("[../../runbooks/10-database/database-abnormal.yaml]", f"[{RUNBOOK}]")
    old = "approve: {step: end_idle_sessions, by: alice, teams: [dba]}"
    assert old in text
    path = tmp_path / "gate.yaml"
    path.write_text(text.replace(old, decision))
    result = run_scenario(path)
    return result.errors


@pytest.mark.parametrize(
    ("teams", "has"), [(", teams: [payments]", "in payments"), ("", "in no team")]
)
def test_a_decision_outside_the_steps_team_stops_the_scenario(
    tmp_path: Path, teams: str, has: str
) -> None:
    errors = _run(tmp_path, f"approve: {{step: end_idle_sessions, by: alice{teams}}}")
    assert errors == [
        "timeline at 3m: step 'end_idle_sessions': this needs role approver in team dba; "
        f"alice is approver {has} (give the decision role: or teams:)"
    ]


@pytest.mark.parametrize(
    "decision",
    [
        "approve: {step: end_idle_sessions, by: alice, teams: [dba]}",
        "approve: {step: end_idle_sessions, by: root, role: admin}",
    ],
)
def test_a_member_of_the_team_or_an_admin_may_decide(tmp_path: Path, decision: str) -> None:
    assert _run(tmp_path, decision) == []
