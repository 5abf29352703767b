"""``runbookd check|test --format github``: GitHub Actions annotations on the problem's line.

GitHub reads ``::error file=...,line=...,col=...,title=...::message`` from a step's stdout; a
message or property that is not escaped is cut short or split (a newline ends the command, a
comma or colon ends a property), so the tests read the commands back the way the runner does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runbookd.cli.main import main
from runbookd.engine.lang.diagnostics import Diagnostic
from runbookd.toolchain.annotations import annotation, diagnostic
from tests.ci_fixtures import UNKNOWN_CONNECTOR, WRONG_SEVERITY, runbook_repository

_COMMAND = re.compile(r"^::(?P<level>\w+)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


def _unescape(text: str) -> str:
    for escaped, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, char)
    return text


def read_commands(out: str) -> list[dict[str, str]]:
    """Each workflow command in ``out`` as the runner would take it apart."""
    found = []
    for line in out.splitlines():
        command = _COMMAND.match(line)
        if command is None:
            continue
        fields = {"level": command["level"], "message": _unescape(command["message"])}
        for prop in (command["props"] or "").split(","):
            if prop:
                key, _, value = prop.partition("=")
                fields[key] = _unescape(value)
        found.append(fields)
    return found


def test_a_message_with_newlines_and_percent_stays_one_command() -> None:
    line = annotation("50% failed\nsee: the log, line 2", file="a.yaml", line=3, col=4)
    assert "\n" not in line
    assert read_commands(line) == [
        {
            "level": "error",
            "message": "50% failed\nsee: the log, line 2",
            "file": "a.yaml",
            "line": "3",
            "col": "4",
        }
    ]


def test_commas_and_colons_in_a_title_or_file_name_do_not_end_the_property() -> None:
    line = annotation("m", file="runbooks/a,b:c.yaml", title="runbookd test: x, y")
    assert read_commands(line)[0] | {"message": "m"} == {
        "level": "error",
        "message": "m",
        "file": "runbooks/a,b:c.yaml",
        "title": "runbookd test: x, y",
    }


def test_absolute_paths_under_the_checkout_become_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    inside = diagnostic(Diagnostic(str(tmp_path / "runbooks" / "x.yaml"), 2, 7, "bad"))
    outside = diagnostic(Diagnostic("/elsewhere/x.yaml", 2, 7, "bad"))
    assert read_commands(inside)[0]["file"] == "runbooks/x.yaml"
    assert read_commands(outside)[0]["file"] == "/elsewhere/x.yaml"


def test_check_annotates_each_problem_on_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(runbook_repository(tmp_path, broken=True))
    assert main(["check", "--format", "github", "runbooks"]) == 1
    out, err = capsys.readouterr()
    (command,) = read_commands(out)
    assert command["file"] == UNKNOWN_CONNECTOR.file
    assert (command["line"], command["col"]) == (
        str(UNKNOWN_CONNECTOR.line),
        str(UNKNOWN_CONNECTOR.col),
    )
    assert command["message"].startswith(UNKNOWN_CONNECTOR.text)
    assert command["title"] == "runbookd check"
    assert err == ""  # the text lines are not repeated on stderr
    assert "ok duplicate-orders" in out


def test_check_without_problems_prints_no_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(runbook_repository(tmp_path, broken=False))
    assert main(["check", "--format", "github", "runbooks"]) == 0
    assert read_commands(capsys.readouterr().out) == []


def test_test_annotates_a_failed_expectation_on_its_scenario_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(runbook_repository(tmp_path, broken=True))
    assert main(["test", "--format", "github", "tests/scenarios"]) == 1
    out = capsys.readouterr().out
    assert "FAIL tests/scenarios/02-duplicate-orders-handled.yaml" in out  # the report stays
    (command,) = read_commands(out)
    assert command["file"] == WRONG_SEVERITY.file
    assert (command["line"], command["col"]) == (str(WRONG_SEVERITY.line), str(WRONG_SEVERITY.col))
    assert command["message"] == (
        f"{WRONG_SEVERITY.text}\nseverity: expected 'critical', actual 'medium'"
    )
    assert command["title"].startswith("runbookd test: an app release resubmits on timeout")


def test_test_annotates_a_scenario_that_cannot_load_where_its_problem_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(
        "scenario: x\nrunbooks: [r.yaml]\nstart: 2026-01-01T00:00:00Z\nexpekt: []\n"
    )
    assert main(["test", "--format", "github", "s.yaml"]) == 1
    commands = read_commands(capsys.readouterr().out)
    assert commands, "no annotation for a scenario that does not load"
    assert {c["file"] for c in commands} == {"s.yaml"}
    assert any(c["line"] == "4" and "expekt" in c["message"] for c in commands), commands


def test_test_annotates_a_broken_runbook_it_loads_on_the_runbook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = runbook_repository(tmp_path, broken=True)
    monkeypatch.chdir(root)
    scenario = root / "tests" / "scenarios" / "02-duplicate-orders-handled.yaml"
    scenario.write_text(scenario.read_text().replace("02-orders/duplicate-orders.yaml", "bad.yaml"))
    assert main(["test", "--format", "github", "tests/scenarios"]) == 1
    commands = read_commands(capsys.readouterr().out)
    located = [(c["file"], c.get("line"), c.get("col")) for c in commands]
    want = (UNKNOWN_CONNECTOR.file, str(UNKNOWN_CONNECTOR.line), str(UNKNOWN_CONNECTOR.col))
    assert want in located, commands
