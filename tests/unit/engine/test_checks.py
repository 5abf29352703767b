"""engine.checks: every class of whole-runbook error, each at its node, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

import runbookd.engine.checks as checks
from runbookd.connectors.base import ConnectorSpec, Params
from runbookd.engine.checks import check_all, check_runbook
from runbookd.engine.lang.loader import LoadedRunbook, load_text
from runbookd.engine.rules import validate_in_child


class TextParams(Params):
    text: str
    channel: str | None = None


class RequestParams(Params):
    url: str
    method: str = "POST"


class QueryParams(Params):
    query: str


SPECS = {
    spec.name: spec
    for spec in (
        ConnectorSpec("slack", TextParams, "post a message"),
        ConnectorSpec("http", RequestParams, "call an endpoint", result_fields=("status",)),
        ConnectorSpec("prometheus", QueryParams, "query", result_fields=("value",)),
    )
}

VALID = """\
runbook: 1
id: demo
title: Demo
team: ops
section: "1.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.service]
  triggers:
    - id: down
      match: {field: name, eq: ServiceDown}
    - id: slow
      match: {field: labels.latency, matches: '[0-9]+ms'}
  raise:
    - when: {field: incident.alerts, ge: 3}
      severity: critical
escalation:
  levels:
    - id: oncall
      connector: slack
      params:
        text: "{{ incident.title }} for {{ level.who }}"
      ack_within: 5m
    - id: lead
      connector: slack
      params: {text: "{{ incident.id }} not acknowledged"}
handling:
  steps:
    - id: probe
      connector: http
      params: {url: "http://svc/{{ alert.labels.service }}/health", method: GET}
      on_failure: {then: continue}
    - id: restart
      connector: http
      target: "{{ incident.labels.service }}"
      when:
        any:
          - {field: steps.probe.outcome, eq: failed}
          - {field: steps.probe.result.status, ne: up}
      params: {url: "http://svc/restart", method: POST}
      verify:
        within: 5m
        check:
          connector: http
          params: {url: "http://svc/jobs/{{ steps.restart.result.id }}"}
        expect: {field: result.status, eq: up}
      rollback:
        connector: slack
        params: {text: "restart of {{ step.target }} failed"}
resolution:
  when: {field: status, eq: resolved}
postmortem:
  impact:
    - id: errors
      title: Errors
      connector: prometheus
      params: {query: 'sum(increase(errors_total[{{ window.duration }}]))'}
"""

# Needles for `at` that start at a quoted scalar (the value node begins at the quote).
TITLE_ID = '"{{ incident.id }'
TITLE_TEXT = '"{{ incident.title'
SEVERTY = '"{{ incident.severty'
SVC_STEPS = '"http://svc/{{ steps'
SVC_WINDOW = '"http://svc/{{ window'
QUERY = "'sum("
TARGET_STEPS = '"{{ steps.restart.outcome'
BAD_RE = "'[0-9+ms'"


def load(text: str, file: str = "rb.yaml") -> LoadedRunbook:
    loaded, problems = load_text(text, file)
    assert loaded is not None, [str(p) for p in problems]
    return loaded


def check(text: str) -> list[str]:
    return [str(d) for d in check_runbook(load(text), SPECS)]


def variant(*edits: tuple[str, str]) -> str:
    text = VALID
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def at(text: str, needle: str, nth: int = 0) -> str:
    """``rb.yaml:LINE:COL`` of the nth occurrence of ``needle`` in ``text``."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"rb.yaml:{line}:{col}"


def test_a_valid_runbook_has_no_problems() -> None:
    assert check(VALID) == []
    assert check_all([load(VALID)], SPECS, load_rules=False) == []


# --- 1, 2: connectors and parameters ---------------------------------------------------------


def test_unknown_connector_with_suggestion_lists_the_known_ones() -> None:
    text = variant(("      connector: prometheus", "      connector: prometheos"))
    assert check(text) == [
        f"{at(text, 'prometheos')}: unknown connector 'prometheos' "
        "(did you mean 'prometheus'?); known: http, prometheus, slack"
    ]


def test_unknown_connector_without_close_match_still_lists_the_known_ones() -> None:
    text = variant(
        (
            '        connector: slack\n        params: {text: "restart',
            '        connector: pager\n        params: {text: "restart',
        )
    )
    assert check(text) == [
        f"{at(text, 'pager')}: unknown connector 'pager'; known: http, prometheus, slack"
    ]


def test_unknown_parameter_is_reported_at_its_key() -> None:
    text = variant(
        ('params: {text: "{{ incident.id }} not', 'params: {text: "x", txt: "{{ incident.id }} not')
    )
    assert check(text) == [
        f"{at(text, 'txt:')}: unknown parameter 'txt' for connector 'slack' (did you mean 'text'?)"
    ]


def test_unknown_parameter_without_close_match_lists_the_parameters() -> None:
    text = variant(("method: GET}", "method: GET, zzz: 1}"))
    assert check(text) == [
        f"{at(text, 'zzz')}: unknown parameter 'zzz' for connector 'http'; parameters: url, method"
    ]


def test_missing_required_parameter_at_params_or_at_connector() -> None:
    text = variant(
        ('params: {url: "http://svc/restart", method: POST}', "params: {method: POST}"),
        ('        params: {text: "restart of {{ step.target }} failed"}\n', ""),
    )
    assert check(text) == [
        f"{at(text, 'params: {method: POST}', 0)}: missing required parameter 'url' "
        "for connector 'http'",
        f"{at(text, 'connector: slack', 2)}: missing required parameter 'text' "
        "for connector 'slack'",
    ]


def test_templated_values_are_not_type_checked() -> None:
    assert check(variant(("method: GET}", "method: '{{ alert.labels.method }}'}"))) == []


# --- 3: templates ----------------------------------------------------------------------------


def test_template_syntax_error_at_the_string() -> None:
    text = variant(("{{ incident.id }} not", "{{ incident.id } not"))
    (error,) = check(text)
    assert error.startswith(f"{at(text, TITLE_ID)}: template syntax error: ")


def test_unknown_root_variable_names_what_is_available() -> None:
    text = variant(("{{ level.who }}", "{{ levle.who }}"))
    assert check(text) == [
        f"{at(text, TITLE_TEXT)}: template uses 'levle', which does not exist here "
        "(did you mean 'level'?); available: alert, incident, level, runbook"
    ]


def test_root_variables_depend_on_where_the_template_is() -> None:
    text = variant(
        ("{{ window.duration }}", "{{ level.id }}"),
        ("{{ alert.labels.service }}", "{{ window.start }}"),
    )
    assert check(text) == [
        f"{at(text, SVC_WINDOW)}: template uses 'window', which does not exist here; "
        "available: alert, incident, runbook, step, steps",
        f"{at(text, QUERY)}: template uses 'level', which does not exist here; "
        "available: alert, incident, runbook, steps, window",
    ]


def test_unknown_attribute_with_suggestion() -> None:
    text = variant(("{{ incident.title }}", "{{ incident.severty }}"))
    (error,) = check(text)
    assert error.startswith(
        f"{at(text, SEVERTY)}: template uses incident.severty, which does not "
        "exist (did you mean 'severity'?); incident has: id, key, title,"
    )


def test_free_keys_under_labels_and_results_are_accepted() -> None:
    text = variant(("{{ incident.title }}", "{{ incident.labels.anything.deeper }}"))
    assert check(text) == []


def test_step_reference_must_be_an_earlier_step() -> None:
    text = variant(
        ('target: "{{ incident.labels.service }}"', 'target: "{{ steps.restart.outcome }}"')
    )
    assert check(text) == [
        f"{at(text, TARGET_STEPS)}: template refers to step 'restart' itself; "
        "a step sees only the steps before it"
    ]
    later = variant(
        ("{{ alert.labels.service }}", "{{ steps.restart.outcome }}"),
        ("    - id: restart", "    - id: restart2"),
        ("{{ steps.restart.result.id }}", "{{ steps.restart2.result.id }}"),
    )
    assert check(later) == [f"{at(later, SVC_STEPS)}: template refers to no step 'restart'"]


def test_step_defined_later_is_named_as_such() -> None:
    text = variant(("{{ alert.labels.service }}", "{{ steps.restart.attempts }}"))
    assert check(text) == [
        f"{at(text, SVC_STEPS)}: template refers to step 'restart', "
        "which is not defined before step 'probe'"
    ]


def test_impact_templates_see_every_step_and_unknown_step_attribute() -> None:
    ok = variant(("{{ window.duration }}", "{{ steps.restart.attempts }}"))
    assert check(ok) == []
    bad = variant(("{{ window.duration }}", "{{ steps.restart.outcom }}"))
    assert check(bad) == [
        f"{at(bad, QUERY)}: template uses steps.restart.outcom, which does not exist "
        "(did you mean 'outcome'?); a step has: outcome, result, attempts"
    ]


# --- 4, 5: condition fields and regexes ------------------------------------------------------


def test_unknown_event_field_in_a_trigger() -> None:
    text = variant(("{field: labels.latency,", "{field: lables.latency,"))
    (error,) = check(text)
    assert error.startswith(
        f"{at(text, 'lables.latency')}: unknown field 'lables.latency' "
        "(did you mean 'labels.latency'?); events have kind, name,"
    )


def test_group_by_entries_are_event_paths() -> None:
    text = variant(("group_by: [labels.service]", "group_by: [labels.service, service]"))
    (error,) = check(text)
    assert error.startswith(f"{at(text, 'service]')}: unknown field 'service'")


def test_incident_fields_in_raise_but_not_in_resolution() -> None:
    text = variant(
        ("{field: incident.alerts, ge: 3}", "{field: incident.alerst, ge: 3}"),
        ("{field: status, eq: resolved}", "{field: incident.age, gt: 60}"),
    )
    errors = check(text)
    assert len(errors) == 2, errors
    assert errors[0].startswith(
        f"{at(text, 'incident.alerst')}: unknown field 'incident.alerst' "
        "(did you mean 'incident.alerts'?)"
    )
    assert errors[1].startswith(
        f"{at(text, 'incident.age')}: unknown field 'incident.age'; events have"
    )


def test_step_conditions_read_alert_and_earlier_steps() -> None:
    text = variant(
        ("{field: steps.probe.result.status, ne: up}", "{field: labels.service, eq: api}")
    )
    assert check(text) == [
        f"{at(text, 'labels.service, eq: api')}: unknown field 'labels.service' "
        "(did you mean 'alert.labels.service'?); here: incident.severity, incident.scope, "
        "incident.complexity, incident.alerts, incident.age, incident.labels.X, "
        "incident.distinct.X, alert.<event field>, steps.<earlier step>.outcome|attempts|result.X"
    ]
    later = variant(
        ("{field: steps.probe.result.status, ne: up}", "{field: steps.restart.attempts, gt: 1}")
    )
    assert check(later) == [
        f"{at(later, 'steps.restart.attempts')}: condition refers to step 'restart' itself; "
        "a step sees only the steps before it"
    ]
    attr = variant(
        ("{field: steps.probe.result.status, ne: up}", "{field: steps.probe.atempts, gt: 1}")
    )
    (error,) = check(attr)
    assert "unknown field 'steps.probe.atempts' (did you mean 'steps.probe.attempts'?)" in error


def test_expect_reads_results() -> None:
    text = variant(("expect: {field: result.status", "expect: {field: status"))
    (error,) = check(text)
    assert error.startswith(
        f"{at(text, 'status, eq: up}')}: unknown field 'status' (did you mean 'result.status'?)"
    )


def test_bad_regular_expression() -> None:
    text = variant(("matches: '[0-9]+ms'", "matches: '[0-9+ms'"))
    assert check(text) == [
        f"{at(text, BAD_RE)}: bad regular expression '[0-9+ms': "
        "unterminated character set at position 0"
    ]


# --- 6: duplicates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "    - id: restart",
            "    - id: probe",
            "probe",
            "duplicate step id 'probe' (first at line 29)",
        ),
        (
            "    - id: lead",
            "    - id: oncall",
            "oncall",
            "duplicate escalation level id 'oncall' (first at line 19)",
        ),
        (
            "    - id: slow",
            "    - id: down",
            "down",
            "duplicate trigger id 'down' (first at line 10)",
        ),
    ],
)
def test_duplicate_ids_at_the_second_one(old: str, new: str, needle: str, message: str) -> None:
    text = variant((old, new))
    assert f"{at(text, needle, 1)}: {message}" in check(text)


def test_duplicate_impact_ids() -> None:
    impact = VALID[VALID.index("    - id: errors") :]
    text = VALID + impact
    second = at(text, "errors\n", 1)
    assert f"{second}: duplicate impact id 'errors' (first at line 54)" in check(text)


# --- 7: reachability of steps ----------------------------------------------------------------


def test_step_waiting_for_an_outcome_that_cannot_happen() -> None:
    text = variant(("      on_failure: {then: continue}\n", ""))
    # `any` still runs through its other branch: only a blocking leaf is an error
    assert check(text) == []
    blocking = variant(
        ("      on_failure: {then: continue}\n", ""),
        ("        any:", "        all:"),
    )
    assert check(blocking) == [
        f"{at(blocking, 'steps.probe.outcome')}: step 'restart' can never run: it needs "
        "steps.probe.outcome == 'failed' but step 'probe' only ends ok "
        "(set on_failure.then: continue to go on after a failure)"
    ]


def test_unknown_outcome_name() -> None:
    text = variant(
        (
            "{field: steps.probe.outcome, eq: failed}",
            "{field: steps.probe.outcome, in: [ok, faild]}",
        )
    )
    assert check(text) == [
        f"{at(text, 'faild')}: unknown step outcome 'faild' (did you mean 'failed'?); "
        "outcomes: ok, skipped, failed, denied, expired"
    ]


def test_all_demanding_two_values_of_one_field() -> None:
    text = variant(
        ("        any:\n", "        all:\n"),
        ("{field: steps.probe.result.status, ne: up}", "{field: steps.probe.outcome, eq: ok}"),
    )
    assert check(text) == [
        f"{at(text, 'all:')}: condition can never hold: field 'steps.probe.outcome' cannot "
        "equal both 'failed' and 'ok'"
    ]


# --- 8: escalation ---------------------------------------------------------------------------


def test_level_after_one_without_ack_within_is_unreachable() -> None:
    text = variant(("      ack_within: 5m\n", ""))
    assert check(text) == [
        f"{at(text, 'lead')}: escalation level 'lead' can never be reached: level 'oncall' has "
        "no ack_within and no step or approval escalates"
    ]
    # a step that escalates on failure makes the next level reachable
    early = variant(
        ("      ack_within: 5m\n", ""),
        ("on_failure: {then: continue}", "on_failure: {then: escalate}"),
    )
    assert not any("can never be reached" in e for e in check(early))


def test_repeat_without_a_deadline_on_the_last_level() -> None:
    text = variant(("handling:\n", "  repeat: 2\nhandling:\n"))
    repeat = at(text, "2\nhandling")
    assert check(text) == [
        f"{repeat}: repeat has no effect: the last level 'lead' has no ack_within and "
        "no step or approval escalates"
    ]


# --- 9: post-mortem template -----------------------------------------------------------------


def test_postmortem_template_must_exist_and_parse(tmp_path: Path) -> None:
    text = VALID + "  template: report.md.j2\n"
    file = str(tmp_path / "rb.yaml")
    missing = [str(d) for d in check_runbook(load(text, file), SPECS)]
    line = at(text, "report.md.j2").removeprefix("rb.yaml")
    assert missing == [
        f"{file}{line}: post-mortem template 'report.md.j2' not found "
        f"(looked for {tmp_path / 'report.md.j2'})"
    ]
    (tmp_path / "report.md.j2").write_text("# {{ incident.title }\n")
    (broken,) = [str(d) for d in check_runbook(load(text, file), SPECS)]
    assert broken.startswith(f"{file}{line}: post-mortem template 'report.md.j2': template syntax")
    (tmp_path / "report.md.j2").write_text("# {{ incident.title }}\n")
    assert check_runbook(load(text, file), SPECS) == []


# --- all at once, and across files -----------------------------------------------------------


def test_every_problem_of_a_file_is_reported() -> None:
    text = variant(
        ("      connector: prometheus", "      connector: prometheos"),
        ("{{ level.who }}", "{{ levle.who }}"),
        ("{field: labels.latency,", "{field: lables.latency,"),
        ("matches: '[0-9]+ms'", "matches: '[0-9+ms'"),
        ("    - id: restart", "    - id: probe"),
        ("      ack_within: 5m\n", ""),
        ("method: GET}", "method: GET, zzz: 1}"),
    )
    errors = check(text)
    expected = [
        "unknown connector 'prometheos'",
        "template uses 'levle'",
        "unknown field 'lables.latency'",
        "bad regular expression '[0-9+ms'",
        "duplicate step id 'probe'",
        "escalation level 'lead' can never be reached",
        "unknown parameter 'zzz'",
        # the renamed step leaves its own verify check pointing at a step that is gone
        "template refers to no step 'restart'",
    ]
    assert len(errors) == len(expected), errors
    for message in expected:
        assert sum(message in e for e in errors) == 1, (message, errors)
    assert errors == sorted(errors, key=lambda e: int(e.split(":")[1])), "sorted by position"


def test_duplicate_runbook_ids_across_files() -> None:
    first, second = load(VALID, "a.yaml"), load(VALID, "b.yaml")
    assert [str(d) for d in check_all([first, second], SPECS, load_rules=False)] == [
        "b.yaml:2:5: duplicate runbook id 'demo' (first used in a.yaml)"
    ]


def test_compiled_rules_are_loaded_in_one_child(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def spy(definitions: list[dict[str, object]]) -> list[str | None]:
        calls.append(len(definitions))
        verdicts = validate_in_child(definitions)  # the real child: valid rules load
        assert verdicts == [None] * len(definitions)
        return ["boom"] + verdicts[1:]

    monkeypatch.setattr(checks, "validate_in_child", spy)
    other = load(VALID.replace("id: demo", "id: other", 1), "b.yaml")
    broken = load(variant(("      connector: prometheus", "      connector: nope")), "c.yaml")
    found = [str(d) for d in check_all([load(VALID, "a.yaml"), other, broken], SPECS)]
    # two runbooks, each 2 trigger rulesets + 1 lifecycle ruleset, all in one call; c.yaml not sent
    assert calls == [6]
    assert "a.yaml:7:1: compiled rules do not load in durable_rules: boom" in found
    assert not any(f.startswith("b.yaml") for f in found)
    assert any(f.startswith("c.yaml") and "unknown connector 'nope'" in f for f in found)


def test_lint_problems_are_reported_and_not_sent_to_the_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[int] = []

    def no_child(definitions: list[dict[str, object]]) -> list[str | None]:
        sent.append(len(definitions))
        return [None] * len(definitions)

    monkeypatch.setattr(checks, "lint", lambda definition: ["r0: priority 70000 outside 0..65535"])
    monkeypatch.setattr(checks, "validate_in_child", no_child)
    found = [str(d) for d in check_all([load(VALID)], SPECS)]
    message = "compiled rules do not load in durable_rules: r0: priority 70000 outside 0..65535"
    assert found == [f"rb.yaml:7:1: {message}"] * 3  # two trigger rulesets and the lifecycle
    assert sent == [0]
