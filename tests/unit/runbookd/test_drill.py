"""Drills: synthetic signals from a runbook's own detection, scored end to end (plan 12.1.2)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from runbookd.cli.main import main
from runbookd.drills.run import Driller, DrillResult, drill_runbooks
from runbookd.drills.synth import Unsatisfiable, example_for_regex, solutions
from runbookd.engine.evaluate import holds
from runbookd.engine.lang.conditions import Condition
from runbookd.toolchain.library import load_library

ROOT = Path(__file__).parents[3]
CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)

HEAD = """\
runbook: 1
id: {id}
title: Drill subject
team: platform
section: "10.1"
classification: {{nature: infrastructure, scope: local, complexity: simple}}
"""


def _drill(tmp_path: Path, body: str, rb_id: str = "subject") -> DrillResult:
    path = tmp_path / f"{rb_id}.yaml"
    path.write_text(HEAD.format(id=rb_id) + textwrap.dedent(body))
    library = load_library([path], load_rules=False)
    assert library.ok, [str(d) for d in library.diagnostics]
    return Driller(library.compiled()[0]).run()


def _check(result: DrillResult, name: str) -> tuple[bool, str]:
    found = [c for c in result.checks if c.name == name]
    assert found, f"no check {name!r}; checks: {[c.name for c in result.checks]}"
    return found[0].passed, found[0].detail


# --- the bundled library ------------------------------------------------------------------------


def test_every_bundled_runbook_passes_its_drill() -> None:
    library = load_library([ROOT / "runbooks"], load_rules=False)
    assert library.ok
    results = drill_runbooks(library.compiled())
    failures = [
        f"{r.runbook_id}: {c.name}: {c.detail}" for r in results for c in r.checks if not c.passed
    ]
    assert not failures, "\n".join(failures)
    assert {r.runbook_id for r in results} >= {"system-crash", "data-leak", "network-failure"}


# --- the synthesiser ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cond",
    [
        {"field": "name", "eq": "DiskFull"},
        {"field": "labels.instance", "matches": "db-[0-9]+\\.prod"},
        {"all": [{"field": "value", "gt": 0.5}, {"field": "value", "le": 0.6}]},
        {"all": [{"field": "labels.code", "in": [500, 503]}, {"field": "labels.env", "ne": "dev"}]},
        {"all": [{"field": "name", "eq": "A"}, {"not": {"field": "labels.env", "eq": "prod"}}]},
        {"all": [{"field": "name", "eq": "A"}, {"field": "labels.team", "exists": False}]},
        {"any": [{"field": "name", "eq": "A"}, {"field": "status", "eq": "resolved"}]},
        {"not": {"any": [{"field": "name", "eq": "A"}, {"field": "labels.x", "exists": True}]}},
        {"all": [{"field": "kind", "eq": "alert"}, {"field": "labels.ch", "not_in": ["a", "b"]}]},
    ],
)
def test_solutions_satisfy_the_condition(cond: dict[str, object]) -> None:
    parsed = CONDITION.validate_python(cond)
    docs = solutions(parsed)
    assert docs
    for doc in docs:
        assert holds(parsed, doc.get), doc


def test_each_listed_value_is_a_variant() -> None:
    parsed = CONDITION.validate_python({"field": "name", "in": ["A", "B", "C"]})
    assert [d["name"] for d in solutions(parsed)] == ["A", "B", "C"]


def test_a_contradiction_names_the_field() -> None:
    parsed = CONDITION.validate_python(
        {"all": [{"field": "value", "gt": 5}, {"not": {"field": "value", "gt": 4}}]}
    )
    with pytest.raises(Unsatisfiable, match=r"field 'value' satisfies: value gt 5\.0"):
        solutions(parsed)


def test_a_pinned_key_that_conflicts_is_reported() -> None:
    parsed = CONDITION.validate_python({"field": "labels.site", "eq": "fra1"})
    with pytest.raises(Unsatisfiable, match="must be 'ams2' \\(the incident key\\)"):
        solutions(parsed, pinned={"labels.site": "ams2"})


@pytest.mark.parametrize("pattern", ["db-[0-9]+", "(Disk|Mem)Full", "[^abc]{2}x?", "\\w+@\\d\\d"])
def test_regex_examples_match(pattern: str) -> None:
    import re

    example = example_for_regex(pattern)
    assert example is not None and re.fullmatch(pattern, example)


# --- detection timing per trigger kind ----------------------------------------------------------

ALL_KINDS = """\
detection:
  group_by: [labels.cluster]
  triggers:
    - id: one
      match: {field: name, eq: One}
    - id: held
      match: {all: [{field: name, eq: Held}, {field: value, gt: 90}]}
      for: 5m
    - id: burst
      match: {field: name, matches: 'Refused(Conn|Query)'}
      count: 5
      within: 2m
    - id: pair
      correlate:
        - {field: name, eq: Lag}
        - {all: [{field: name, eq: WriteErrors}, {field: value, ge: 50}]}
      within: 5m
    - id: silent
      absent: {field: name, eq: Heartbeat}
      within: 30m
escalation:
  levels:
    - {id: oncall, connector: log, params: {message: "{{ incident.labels.cluster }}"}, ack_within: 5m}
    - {id: lead, connector: log, params: {message: "lead"}}
"""


def test_every_trigger_kind_is_detected_in_its_window(tmp_path: Path) -> None:
    result = _drill(tmp_path, ALL_KINDS)
    opened = {d["trigger"]: d["detected_at"] for d in result.drills}
    assert opened == {"one": "0s", "held": "5m", "burst": "4s", "pair": "1s", "silent": "30m"}
    assert result.passed, [c for c in result.checks if not c.passed]
    burst = next(d for d in result.drills if d["trigger"] == "burst")
    assert len(burst["events"]) == 5 and burst["events"][0]["event"]["name"] == "RefusedConn"
    assert [e["at"] for e in burst["events"]] == ["0s", "1s", "2s", "3s", "4s"]
    pair = next(d for d in result.drills if d["trigger"] == "pair")
    # both halves carry the same incident key, the second with a value over the threshold
    first, second = (e["event"] for e in pair["events"])
    assert first["labels"]["cluster"] == second["labels"]["cluster"] == "drill-cluster"
    assert (first["name"], second["name"]) == ("Lag", "WriteErrors")
    assert second["value"] >= 50
    assert _check(result, "escalate lead") == (
        True,
        "due by +5m after opening, notified by +5m in every drill",
    )


# --- deliberately broken runbooks ---------------------------------------------------------------


def test_an_escalation_level_that_cannot_notify_fails_the_drill(tmp_path: Path) -> None:
    # The template reads an annotation no signal of this runbook carries: the notification is
    # never sent, so nobody would be paged when the on-call does not acknowledge.
    result = _drill(
        tmp_path,
        """\
        detection:
          triggers:
            - match: {field: name, eq: DiskFull}
        escalation:
          levels:
            - {id: oncall, connector: log, params: {message: "disk full"}, ack_within: 5m}
            - id: lead
              connector: log
              params: {message: "{{ alert.annotations.summary }}"}
        """,
    )
    assert not result.passed
    assert _check(result, "escalate oncall")[0]
    passed, detail = _check(result, "escalate lead")
    assert not passed and "notified never" in detail
    assert 0 < result.score < 1


def test_a_step_whose_condition_never_holds_fails_the_drill(tmp_path: Path) -> None:
    # Detection only ever sees staging; the step waits for production.
    result = _drill(
        tmp_path,
        """\
        detection:
          triggers:
            - match: {all: [{field: name, eq: DiskFull}, {field: labels.env, eq: staging}]}
        escalation:
          levels:
            - {id: oncall, connector: log, params: {message: "disk full"}}
        handling:
          steps:
            - {id: look, connector: log, params: {message: "looking"}}
            - id: clean
              connector: log
              when: {field: alert.labels.env, eq: prod}
              params: {message: "cleaning"}
        """,
    )
    assert not result.passed
    assert _check(result, "step look")[0]
    assert _check(result, "step clean") == (False, "skipped in every drill: its when never held")


def test_a_trigger_no_event_can_satisfy_fails_with_the_reason(tmp_path: Path) -> None:
    result = _drill(
        tmp_path,
        """\
        detection:
          triggers:
            - id: impossible
              match: {all: [{field: value, gt: 5}, {not: {field: value, gt: 4}}]}
        escalation:
          levels:
            - {id: oncall, connector: log, params: {message: "x"}}
        """,
    )
    passed, detail = _check(result, "detect impossible#1")
    assert not passed
    assert detail == (
        "cannot synthesise an event: no value of field 'value' satisfies: "
        "value gt 5.0, not (value gt 4.0)"
    )
    assert _check(result, "postmortem") == (False, "no drill produced an incident")


def test_a_verification_that_can_never_pass_fails_the_step(tmp_path: Path) -> None:
    result = _drill(
        tmp_path,
        """\
        detection:
          triggers:
            - match: {field: name, eq: DiskFull}
        escalation:
          levels:
            - {id: oncall, connector: log, params: {message: "x"}}
        handling:
          steps:
            - id: clean
              connector: log
              params: {message: "cleaning"}
              verify:
                within: 1m
                check: {connector: prometheus, params: {query: "free_ratio"}}
                expect: {all: [{field: result.value, gt: 1}, {field: result.value, lt: 0}]}
        """,
    )
    passed, detail = _check(result, "step clean")
    assert not passed and detail.startswith("step clean: its verification can never pass")


def test_recovery_events_and_step_results_are_synthesised(tmp_path: Path) -> None:
    # The step waits for its alert to resolve; the next one runs only on what the first found.
    result = _drill(
        tmp_path,
        """\
        detection:
          group_by: [labels.instance]
          triggers:
            - match: {field: name, eq: ReplicaLag}
        escalation:
          levels:
            - {id: oncall, connector: log, params: {message: "{{ incident.labels.instance }}"}}
        handling:
          steps:
            - id: count
              connector: sql
              params: {query: "select 1"}
            - id: kill
              connector: sql
              when: {field: steps.count.result.rows.0.stale, ge: 3}
              params: {query: "select 2", read_only: false}
              verify:
                within: 10m
                event: {all: [{field: name, eq: ReplicaLag}, {field: status, eq: resolved}]}
              on_failure: {then: continue}
            - id: tell
              connector: log
              when: {field: steps.kill.outcome, eq: failed}
              params: {message: "kill failed"}
        postmortem:
          impact:
            - {id: lag, title: Lag, connector: prometheus, params: {query: "max(lag)"}}
        """,
    )
    assert result.passed, [c for c in result.checks if not c.passed]
    assert _check(result, "step kill") == (True, "ok in 1 of 1 drills")
    assert _check(result, "step tell") == (
        True,
        "correctly skipped: it waits on another step's outcome",
    )


# --- the command ----------------------------------------------------------------------------------


def test_cli_drills_one_runbook(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--runbooks", str(ROOT / "runbooks"), "data-leak"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS data-leak v1 (section 11.1) score 1.00:")
    assert out.rstrip().endswith("1 runbooks drilled: 1 passed, 0 failed")


def test_cli_json_and_failing_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        HEAD.format(id="broken")
        + "detection: {triggers: [{match: {field: name, eq: A}}]}\n"
        + "handling: {steps: [{id: s, connector: log, when: {field: alert.name, eq: B},"
        + " params: {message: m}}]}\n"
    )
    assert main(["drill", "--runbooks", str(broken), "--all", "--json"]) == 1
    [record] = json.loads(capsys.readouterr().out)
    assert record["runbook_id"] == "broken" and record["passed"] is False
    failed = {c["name"]: c["detail"] for c in record["checks"] if not c["passed"]}
    assert failed == {
        "escalate": "no escalation levels: nobody would be told",
        "step s": "skipped in every drill: its when never held",
    }
    assert record["score"] == pytest.approx(2 / 4)


def test_cli_refuses_unknown_ids_and_missing_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drill", "--runbooks", str(ROOT / "runbooks"), "no-such-runbook"]) == 1
    assert "runbookd drill: no runbook 'no-such-runbook'; known: " in capsys.readouterr().err
    assert main(["drill"]) == 2
    assert "name runbook ids, or use --all" in capsys.readouterr().err


def test_a_recovery_event_carries_a_key_that_is_not_a_label(tmp_path: Path) -> None:
    # Grouped by a generic event's field: the awaited event must carry the same field value.
    result = _drill(
        tmp_path,
        """\
        detection:
          group_by: [fields.account]
          triggers:
            - match: {all: [{field: name, eq: Export}, {field: fields.account, matches: 'u-[0-9]+'}]}
        escalation:
          levels:
            - {id: oncall, connector: log, params: {message: "x"}}
        handling:
          steps:
            - id: revoke
              connector: log
              params: {message: "revoke"}
              verify:
                within: 5m
                event: {field: name, eq: AccountRevoked}
        """,
    )
    assert _check(result, "step revoke") == (True, "ok in 1 of 1 drills")
    [drill] = result.drills
    assert drill["events"][0]["event"] == {"name": "Export", "account": "u-0"}
