"""``runbookd coverage`` on the real rule files and the bundled runbooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from runbookd.cli.main import main

ROOT = Path(__file__).parents[3]
REFERENCE = ROOT.parent / "shared" / "reference" / "prometheus-rules"
DEPLOY = ROOT / "deploy" / "prometheus" / "rules"
RUNBOOKS = ROOT / "runbooks"
KEYCLOAK = (
    REFERENCE / "awesome-prometheus-alerts/dist/rules/keycloak/aerogear-keycloak-metrics-spi.yml"
)


def _coverage(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["coverage", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _alerting_rules(paths: list[Path]) -> list[str]:
    """An independent count: every `alert:` of every group, PrometheusRule specs included."""
    names: list[str] = []
    for path in paths:
        for file in sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")):
            doc = yaml.safe_load(file.read_text())
            groups = (
                (doc.get("spec") or {}).get("groups")
                if doc.get("kind") == "PrometheusRule"
                else doc["groups"]
            )
            names += [r["alert"] for g in groups for r in g.get("rules") or [] if "alert" in r]
    return names


def _rule(report: dict[str, Any], alert: str, file_part: str = "") -> dict[str, Any]:
    return next(r for r in report["rules"] if r["alert"] == alert and file_part in r["file"])


def test_every_alerting_rule_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _coverage(
        capsys, "--rules", str(REFERENCE), str(DEPLOY), "--runbooks", str(RUNBOOKS)
    )
    assert code == 0
    assert sorted(r["alert"] for r in report["rules"]) == sorted(
        _alerting_rules([REFERENCE, DEPLOY])
    )


def test_matches_name_runbook_trigger_and_role(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = _coverage(capsys, "--rules", str(DEPLOY), "--runbooks", str(RUNBOOKS))
    oom = _rule(report, "HostOomKillDetected")
    assert {(m["runbook"], m["trigger"], m["role"], m["verdict"]) for m in oom["matches"]} == {
        ("system-crash", "out-of-memory", "half 1 of a correlation", "matches")
    }
    # runbookd's own rules are for the people running runbookd, not a runbook of the plan.
    assert "deploy/prometheus/rules/runbookd.yml" in " ".join(report["uncovered"])


def test_a_condition_on_a_runtime_label_depends(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = _coverage(capsys, "--rules", str(DEPLOY), "--runbooks", str(RUNBOOKS))
    failures = _rule(report, "OrderCreationFailuresHigh")
    verdicts = {m["runbook"]: (m["verdict"], m["depends_on"]) for m in failures["matches"]}
    # The expression keeps `reason`, but only the series know which reason an alert has.
    assert verdicts["order-creation-failed"] == ("depends on runtime labels", ["labels.reason"])


def test_group_by_on_a_label_the_rule_cannot_carry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The address rule's expression keeps `client` only: grouping it on warehouse is a mistake.
    folder = _runbook(
        tmp_path, "{field: name, eq: AddressVerificationFailureRateHigh}", "[labels.warehouse]"
    )
    _, report = _coverage(capsys, "--rules", str(DEPLOY), "--runbooks", str(folder))
    address = _rule(report, "AddressVerificationFailureRateHigh")
    problems = [w["problem"] for w in address["warnings"] if w["runbook"] == "login-failures"]
    assert any(
        p.startswith("group_by labels.warehouse: its alerts cannot carry it") for p in problems
    )
    # The bundled library groups each address signal on the label its rule keeps.
    _, report = _coverage(capsys, "--rules", str(DEPLOY), "--runbooks", str(RUNBOOKS))
    for name in ("AddressVerificationFailureRateHigh", "ShipmentAddressMismatch"):
        assert not [w for w in _rule(report, name)["warnings"] if "cannot carry" in w["problem"]]
    # A node-exporter rule keeps its series' labels, and every scraped series has `instance`.
    assert _rule(report, "HostOomKillDetected")["warnings"] == []


def _rules_file(tmp_path: Path, expr: str) -> Path:
    path = tmp_path / "rules.yml"
    rule = {"alert": "EdgeLinkDown", "expr": expr, "labels": {"severity": "critical"}}
    path.write_text(yaml.safe_dump({"groups": [{"name": "edge", "rules": [rule]}]}))
    return path


@pytest.mark.parametrize(
    ("expr", "warned"),
    [
        ("ifOperStatus == 2", False),  # scraped series: Prometheus labels each with its target
        ("site:if_down:count > 0", True),  # a recording rule's output keeps what that rule kept
    ],
)
def test_target_labels_of_scraped_series_are_carried(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], expr: str, warned: bool
) -> None:
    runbooks = _runbook(tmp_path, "{field: name, eq: EdgeLinkDown}", "[labels.instance]")
    _, report = _coverage(
        capsys, "--rules", str(_rules_file(tmp_path, expr)), "--runbooks", str(runbooks)
    )
    problems = [w["problem"] for w in _rule(report, "EdgeLinkDown")["warnings"]]
    assert bool(problems) is warned
    assert all("group_by labels.instance: the rule does not set it" in p for p in problems)


def test_a_group_label_every_trigger_requires_is_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _rules_file(tmp_path, "ifOperStatus == 2")
    loose = _runbook(tmp_path, "{field: name, eq: EdgeLinkDown}", "[labels.site]")
    _, report = _coverage(capsys, "--rules", str(rules), "--runbooks", str(loose))
    [warning] = _rule(report, "EdgeLinkDown")["warnings"]
    assert "group_by labels.site: the rule does not set it" in warning["problem"]
    # Alerts without `site` match no trigger (they go to the fallback): no incident keyed empty.
    match = "{all: [{field: name, eq: EdgeLinkDown}, {field: labels.site, exists: true}]}"
    guarded = _runbook(tmp_path, match, "[labels.site]")
    _, report = _coverage(capsys, "--rules", str(rules), "--runbooks", str(guarded))
    rule = _rule(report, "EdgeLinkDown")
    assert rule["warnings"] == [] and rule["matches"][0]["verdict"] == "depends on runtime labels"


def _runbook(tmp_path: Path, match: str, group_by: str = "[]") -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir(exist_ok=True)
    (folder / "rb.yaml").write_text(
        "runbook: 1\nid: login-failures\ntitle: Logins fail\nteam: identity\nsection: '11.1'\n"
        "classification: {nature: security, scope: local, complexity: simple}\n"
        f"detection:\n  group_by: {group_by}\n  triggers:\n    - id: logins\n      match: {match}\n"
    )
    return folder


def test_a_misspelt_alert_name_is_a_typo_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbooks = _runbook(tmp_path, "{field: name, eq: KeycloakHighLoginFailureRat}")
    code, report = _coverage(
        capsys, "--rules", str(KEYCLOAK), "--runbooks", str(runbooks), "--fail-on", "typos"
    )
    assert code == 1
    (typo,) = report["typos"]
    assert typo["name"] == "KeycloakHighLoginFailureRat"
    assert typo["hint"] == " (did you mean 'KeycloakHighLoginFailureRate'?)"
    lines = (runbooks / "rb.yaml").read_text().splitlines()
    line = lines[typo["line"] - 1]
    assert line[typo["col"] - 1 :].startswith("KeycloakHighLoginFailureRat}")  # the value after eq:
    assert "KeycloakHighLoginFailureRate" in " ".join(report["uncovered"])


@pytest.mark.parametrize("pin", ["{field: kind, eq: event}", "{field: source, eq: shop}"])
def test_events_from_elsewhere_are_no_typos(
    pin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbooks = _runbook(tmp_path, f"{{all: [{pin}, {{field: name, eq: LoginFailed}}]}}")
    code, report = _coverage(
        capsys, "--rules", str(KEYCLOAK), "--runbooks", str(runbooks), "--fail-on", "typos"
    )
    assert (code, report["typos"]) == (0, [])


def test_a_condition_on_a_label_the_rule_drops_never_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbooks = _runbook(
        tmp_path,
        "{all: [{field: name, eq: KeycloakHighLoginFailureRate}, {field: labels.instance, eq: kc-1}]}",
        group_by="[labels.realm]",
    )
    _, report = _coverage(capsys, "--rules", str(KEYCLOAK), "--runbooks", str(runbooks))
    rule = _rule(report, "KeycloakHighLoginFailureRate")
    assert rule["matches"] == []
    assert rule["labels"] == ["realm"]
    (warning,) = rule["warnings"]
    assert warning["field"] == "labels.instance"
    assert "cannot carry" in warning["problem"]
    # Unless Prometheus adds the label to every alert it sends.
    _, report = _coverage(
        capsys,
        "--rules",
        str(KEYCLOAK),
        "--runbooks",
        str(runbooks),
        "--external-label",
        "instance",
    )
    (match,) = _rule(report, "KeycloakHighLoginFailureRate")["matches"]
    assert (match["verdict"], match["depends_on"]) == (
        "depends on runtime labels",
        ["labels.instance"],
    )


def test_fail_on_uncovered_and_the_text_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runbooks = _runbook(
        tmp_path, "{field: name, eq: KeycloakHighLoginFailureRate}", group_by="[labels.realm]"
    )
    assert (
        main(
            [
                "coverage",
                "--rules",
                str(KEYCLOAK),
                "--runbooks",
                str(runbooks),
                "--fail-on",
                "uncovered",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert (
        "KeycloakHighLoginFailureRate (warning, for 5m)\n  -> login-failures / logins (opens an incident): matches"
        in out
    )
    assert (
        f"{KEYCLOAK}:" in out and "KeycloakNoSuccessfulLogins (critical, for 5m): no runbook" in out
    )
    assert "6 alerting rules in 1 files (0 recording rules skipped): 1 matched" in out


def test_broken_rule_file_is_reported_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: X\n")
    assert main(["coverage", "--rules", str(bad), "--runbooks", str(RUNBOOKS)]) == 1
    assert f"{bad}:4:9: rule 'X': `expr` must be text" in capsys.readouterr().err


def test_the_fallback_runbook_covers_no_rule(capsys: pytest.CaptureFixture[str]) -> None:
    # runbooks/ holds runbooks/00-fallback/unhandled-alert.yaml, which would take every alert:
    # it is the safety net for what no runbook handles, so such a rule stays uncovered.
    _, report = _coverage(capsys, "--rules", str(DEPLOY), "--runbooks", str(RUNBOOKS))
    assert (RUNBOOKS / "00-fallback" / "unhandled-alert.yaml").exists()
    assert all(m["runbook"] != "unhandled-alert" for r in report["rules"] for m in r["matches"])
    assert _rule(report, "HostPhysicalComponentTooHot")["matches"] == []


def test_the_bundled_library_against_the_reference_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, report = _coverage(
        capsys, "--rules", str(REFERENCE), str(DEPLOY), "--runbooks", str(RUNBOOKS)
    )
    assert report["typos"] == []  # the event triggers say their source
    warned = sorted(
        (w["runbook"], w["field"]) for rule in report["rules"] for w in rule["warnings"]
    )
    assert warned == [
        ("aftersales-records-missing", "labels.kind"),
        ("aftersales-response-slow", "labels.contact"),
        ("aftersales-response-slow", "labels.contact"),
        ("payment-channel-abnormal", "labels.channel"),
        ("payment-channel-abnormal", "labels.channel"),
    ]
    # An alert that happens to share an event's name is not the event: no trigger takes it.
    rule = {"alert": "ReturnRefundAmountMismatch", "expr": "up == 0"}
    (tmp_path / "same-name.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [rule]}]})
    )
    _, report = _coverage(capsys, "--rules", str(tmp_path / "same-name.yml"))
    assert _rule(report, "ReturnRefundAmountMismatch")["matches"] == []
