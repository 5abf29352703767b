"""The toolchain as SREs call it: check, test, replay, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbookd.cli.main import main

ROOT = Path(__file__).parents[3]


def test_check_bundled_runbooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROOT / "runbooks")]) == 0
    assert "ok payment-channel-abnormal" in capsys.readouterr().out


def test_check_reports_errors_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\ntitle: t\nteam: t\nsection: '1'\nclassification: {nature: business, scope: local, complexity: simple}\ndetection: {triggers: [{match: {field: name, eqq: a}}]}\n"
    )
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    col = bad.read_text().splitlines()[5].index("eqq") + 1
    assert f"{bad}:6:{col}: unknown field 'eqq' (did you mean 'eq'?)" in err


def test_bundled_scenarios_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "junit.xml"
    assert main(["test", str(ROOT / "tests" / "scenarios"), "--junit", str(junit)]) == 0
    assert " 0 failed" in capsys.readouterr().out
    assert "<testcase" in junit.read_text()


def test_failing_expectation_shows_diff_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = (ROOT / "tests" / "scenarios" / "03-payment-channel-down-handled.yaml").read_text()
    broken = tmp_path / "s.yaml"
    broken.write_text(
        src.replace("../../runbooks", str(ROOT / "runbooks")).replace(
            "notified: {level: payments-lead, at: 6m30s}",
            "notified: {level: payments-lead, at: 5m}",
        )
    )
    assert main(["test", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "FAIL level payments-lead notified at 5m" in out
    assert "payments-lead was notified: 6m30s" in out
    assert "timeline:" in out


def test_replay_explains_what_did_not_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    lines = [
        {
            "at": "2026-03-01T10:00:00Z",
            "alertmanager": {
                "version": "4",
                "status": "firing",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "PaymentFailureRateHigh", "channel": "card"},
                        "startsAt": "2026-03-01T10:00:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                    }
                ],
            },
        },
        {"at": "2026-03-01T10:01:00Z", "event": {"name": "disk_full", "labels": {"host": "a"}}},
        {
            "at": "2026-03-01T10:02:00Z",
            "alertmanager": {
                "version": "4",
                "status": "firing",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "PaymentChannelProbeFailed", "channel": "card"},
                        "startsAt": "2026-03-01T10:02:00Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                    }
                ],
            },
        },
    ]
    events.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    # One runbook, not the library: which runbook is "closest" to an event that matches none
    # depends on every runbook loaded, and the library keeps growing.
    runbook = str(ROOT / "runbooks" / "03-payment" / "payment-channel-abnormal.yaml")
    assert main(["replay", "--runbooks", runbook, str(events)]) == 0
    out = capsys.readouterr().out
    assert "no_match line 2 'disk_full': closest: runbook payment-channel-abnormal" in out
    assert "open_incident [INC-1]" in out
    assert main(["replay", "--json", "--runbooks", runbook, str(events)]) == 0
    records = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert any(r["kind"] == "escalate" for r in records)


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert "detection" in schema["required"]


def test_connectors_lists_every_builtin_with_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connectors", "--json"]) == 0
    listed = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert set(listed) >= {"http", "slack", "pagerduty", "email", "sql", "shell", "prometheus"}
    assert {"name": "url", "required": True}.items() <= listed["http"]["params"][0].items()
    assert main(["connectors", "nope"]) == 1
    assert "known: alertmanager_silence" in capsys.readouterr().err
