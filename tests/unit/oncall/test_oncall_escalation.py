"""An escalation level with ``schedule:`` pages whoever is on call at that moment (issue 18).

Run through ``runbookd test``'s scenario runner: a virtual clock, fake connectors, the same
engine as the service.
"""

from __future__ import annotations

from pathlib import Path

from runbookd.cli.main import main
from runbookd.toolchain.scenario import run_scenario

RUNBOOK = """
runbook: 1
id: payment-down
title: Payment channel down
team: payments
section: "3.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.channel]
  triggers:
    - match: {field: name, eq: PaymentDown}
escalation:
  levels:
    - id: primary
      schedule: payments-primary
      connector: slack
      params:
        channel: "{{ oncall.slack }}"
        text: "{{ incident.title }}: you are on call ({{ oncall.name }}, via {{ oncall.via }})"
      ack_within: 10m
    - id: lead
      who: payments lead
      connector: slack
      params: {channel: "#payments", text: "{{ incident.title }}: nobody acknowledged"}
"""

SCHEDULE = """
people:
  alice: {name: Alice Example, slack: U0ALICE}
  bob: {name: Bob Example, slack: U0BOB}
  carol: {name: Carol Example, slack: U0CAROL}
schedules:
  - id: payments-primary
    time_zone: Europe/Berlin
    layers:
      - id: weekly
        rotation: {length: weekly, handoff: "09:00", start: "2026-03-16"}
        members: [alice, bob]
    overrides:
      - {person: carol, start: "2026-03-29T10:00", end: "2026-03-29T12:00"}
"""


def scenario(tmp_path: Path, start: str, expect: str) -> Path:
    (tmp_path / "payment-down.yaml").write_text(RUNBOOK, encoding="utf-8")
    (tmp_path / "schedules").mkdir(exist_ok=True)
    (tmp_path / "schedules" / "payments.yaml").write_text(SCHEDULE, encoding="utf-8")
    path = tmp_path / f"s-{start.replace(':', '')}.yaml"
    path.write_text(
        f"""
scenario: page whoever is on call
runbooks: [payment-down.yaml]
schedules: [schedules]
start: "{start}"
timeline:
  - at: 0s
    event: {{name: PaymentDown, labels: {{channel: cards}}}}
run_for: 30m
expect:
{expect}
""",
        encoding="utf-8",
    )
    return path


def test_page_resolves_the_person_on_call_and_uses_their_contact(tmp_path: Path) -> None:
    # Sunday 29 March 2026, 08:30 summer time: week 1 of the rotation (from Monday 23 March
    # 09:00), bob's; the hand-off to alice is Monday 30 March 09:00.
    path = scenario(
        tmp_path,
        "2026-03-29T06:30:00Z",
        "  - notified: {level: primary, at: 0s, who: Bob Example}\n"
        "  - notified: {level: lead, at: 10m, who: payments lead}\n",
    )
    result = run_scenario(path)
    assert result.passed, result.errors or [c for c in result.checks if not c.passed]
    page = next(c for c in result.timeline if c.kind == "notify" and c.data["level"] == "primary")
    assert page.data["params"]["channel"] == "U0BOB"
    assert page.data["params"]["text"] == (
        "Payment channel down: you are on call (Bob Example, via weekly)"
    )
    assert page.data["oncall"]["person"] == "bob"


def test_after_the_handoff_and_inside_an_override(tmp_path: Path) -> None:
    monday = run_scenario(
        scenario(
            tmp_path, "2026-03-30T07:00:00Z", "  - notified: {level: primary, who: Alice Example}\n"
        )
    )
    assert monday.passed, monday.errors or [c for c in monday.checks if not c.passed]
    covered = run_scenario(
        scenario(
            tmp_path, "2026-03-29T08:30:00Z", "  - notified: {level: primary, who: Carol Example}\n"
        )
    )
    assert covered.passed, covered.errors or [c for c in covered.checks if not c.passed]
    wrong = run_scenario(
        scenario(
            tmp_path, "2026-03-29T08:30:00Z", "  - notified: {level: primary, who: Bob Example}\n"
        )
    )
    assert not wrong.passed  # the expectation can fail: it names who was paged instead
    assert any("to Carol Example" in c.detail for c in wrong.checks if not c.passed)


def test_nobody_on_call_is_noted_and_the_next_level_follows(tmp_path: Path) -> None:
    # Before the rotation starts nobody is on call.
    result = run_scenario(
        scenario(tmp_path, "2026-03-01T08:00:00Z", "  - notified: {level: lead, at: 10m}\n")
    )
    assert result.passed, result.errors or [c for c in result.checks if not c.passed]
    notes = [c.data.get("text", "") for c in result.timeline if c.kind == "note"]
    assert any(
        "schedule 'payments-primary': nobody is on call; nobody was paged" in n for n in notes
    )
    assert not [c for c in result.timeline if c.kind == "notify" and c.data["level"] == "primary"]


def test_check_reports_a_missing_schedule_and_schedule_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    scenario(tmp_path, "2026-03-29T06:30:00Z", "  - notified: {level: primary}\n")
    runbook = tmp_path / "payment-down.yaml"
    schedules = tmp_path / "schedules"
    assert main(["check", str(runbook), "--schedules", str(schedules)]) == 0
    out = capsys.readouterr().out
    assert "schedule payments-primary: ok (Europe/Berlin; 1 layers, 2 people)" in out
    runbook.write_text(RUNBOOK.replace("schedule: payments-primary", "schedule: payments-primry"))
    (schedules / "bad.yaml").write_text("schedules:\n  - id: x\n    time_zone: Mars/Olympus\n")
    assert main(["check", str(runbook), "--schedules", str(schedules)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert (
        f"{runbook}:15:17: level 'primary': no schedule 'payments-primry' (did you mean 'payments-primary'?); schedules: payments-primary"
        in err
    )
    assert (
        f"{schedules / 'bad.yaml'}:3:16: time_zone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)"
        in err
    )


def test_a_retried_page_goes_to_the_same_person_across_a_handoff(tmp_path: Path) -> None:
    # Monday 30 March, 08:59:55 summer time: bob's week ends at 09:00; the first page fails with
    # a failure that may pass and is retried 10 s later, after the hand-off to alice.
    path = scenario(
        tmp_path,
        "2026-03-30T06:59:55Z",
        "  - notified: {level: primary, at: 0s, who: Bob Example}\n",
    )
    text = path.read_text().replace(
        "timeline:",
        "connectors:\n  - connector: slack\n    responses:\n"
        "      - {fail: retryable, message: 503 Service Unavailable}\n"
        "      - {result: {ok: true}}\ntimeline:",
    )
    path.write_text(text)
    result = run_scenario(path)
    assert result.passed, result.errors or [c for c in result.checks if not c.passed]
    pages = [c for c in result.timeline if c.kind == "notify" and c.data["level"] == "primary"]
    assert [(p.data.get("attempt"), p.data["params"]["channel"]) for p in pages] == [
        (None, "U0BOB"),
        (2, "U0BOB"),
    ]


def test_check_refuses_oncall_in_a_level_without_schedule(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    scenario(tmp_path, "2026-03-29T06:30:00Z", "  - notified: {level: primary}\n")
    runbook = tmp_path / "payment-down.yaml"
    runbook.write_text(
        RUNBOOK.replace(
            'text: "{{ incident.title }}: nobody acknowledged"', 'text: "{{ oncall.name }}"'
        )
    )
    assert main(["check", str(runbook), "--schedules", str(tmp_path / "schedules")]) == 1
    err = capsys.readouterr().err
    assert (
        f"{runbook}:24:44: template uses 'oncall', which does not exist here; "
        "available: alert, incident, level, runbook"
    ) in err
