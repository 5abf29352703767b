"""``runbookd scaffold``: from a real alerting rule to a runbook that passes check and test."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbookd.cli.main import main
from runbookd.toolchain.library import load_library
from runbookd.toolchain.rules_files import AlertRule, load_rules
from runbookd.toolchain.scaffold import runbook_id, scaffold
from runbookd.toolchain.scenario import run_scenario

ROOT = Path(__file__).parents[3]
REFERENCE = ROOT.parent / "shared" / "reference" / "prometheus-rules"
AWESOME = REFERENCE / "awesome-prometheus-alerts" / "dist" / "rules"
KUBE = REFERENCE / "kube-prometheus" / "manifests"

TRICKY = [
    # punctuation in the name, a rule without `for`
    (AWESOME / "mysql" / "mysqld-exporter.yml", "MysqlTooManyConnections(>80%)"),
    (AWESOME / "haproxy" / "embedded-exporter-v2.yml", "HaproxyBackendMaxActiveSession>80%"),
    (AWESOME / "cert-manager" / "embedded-exporter.yml", "Cert-managerAbsent"),
    # an aggregated expression: one incident per realm
    (
        AWESOME / "keycloak" / "aerogear-keycloak-metrics-spi.yml",
        "KeycloakHighCode-to-tokenExchangeErrorRate",
    ),
    # a PrometheusRule manifest, the name defined twice, a runbook_url
    (KUBE / "nodeExporter-prometheusRule.yaml", "NodeFilesystemSpaceFillingUp"),
    # severity none, an expression that is always one series
    (KUBE / "kubePrometheus-prometheusRule.yaml", "Watchdog"),
    (ROOT / "deploy" / "prometheus" / "rules" / "infra-security.yml", "InstanceDown"),
]


def _scaffold(tmp_path: Path, rule: str, *extra: str) -> int:
    return main(["scaffold", "--rule", rule, "--out", str(tmp_path), *extra])


@pytest.mark.parametrize(("file", "alert"), TRICKY, ids=[a for _, a in TRICKY])
def test_output_passes_check_and_test_unchanged(
    file: Path, alert: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _scaffold(tmp_path, f"{file}:{alert}") == 0
    rid = runbook_id(alert)
    runbook = tmp_path / "runbooks" / f"{rid}.yaml"
    scenarios = [
        tmp_path / "tests" / "scenarios" / f"{rid}-{kind}.yaml" for kind in ("fires", "near-miss")
    ]
    assert main(["check", str(runbook)]) == 0
    assert main(["test", *map(str, scenarios)]) == 0
    assert "2 scenarios: " in capsys.readouterr().out


def test_every_public_rule_scaffolds_into_a_passing_runbook(tmp_path: Path) -> None:
    rules = load_rules([REFERENCE])
    names = {(r.file, r.alert) for r in rules.rules}
    assert len(names) > 150
    for file, alert in sorted(names):
        same_file = [r for r in rules.rules if r.file == file]
        result = scaffold(
            [r for r in same_file if r.alert == alert],
            section="0",
            file=file,
            neighbours=[r.alert for r in same_file],
        )
        folder = tmp_path / f"{len(list(tmp_path.iterdir()))}"
        (folder / "runbooks").mkdir(parents=True)
        (folder / "tests" / "scenarios").mkdir(parents=True)
        (folder / "runbooks" / f"{result.runbook_id}.yaml").write_text(result.runbook)
        library = load_library([folder / "runbooks"], load_rules=False)
        assert library.ok, (alert, [str(d) for d in library.diagnostics])
        for kind, text in (("fires", result.fires), ("near-miss", result.near_miss)):
            scenario = folder / "tests" / "scenarios" / f"{kind}.yaml"
            scenario.write_text(text)
            outcome = run_scenario(scenario)
            assert outcome.passed, (alert, kind, outcome)


def _written(tmp_path: Path, rid: str) -> tuple[str, str, str]:
    scenarios = tmp_path / "tests" / "scenarios"
    return (
        (tmp_path / "runbooks" / f"{rid}.yaml").read_text(),
        (scenarios / f"{rid}-fires.yaml").read_text(),
        (scenarios / f"{rid}-near-miss.yaml").read_text(),
    )


def test_what_the_rule_says_is_carried_over(tmp_path: Path) -> None:
    rule = f"{KUBE / 'nodeExporter-prometheusRule.yaml'}:NodeFilesystemSpaceFillingUp"
    assert _scaffold(tmp_path, rule, "--section", "10.1") == 0
    runbook, fires, near = _written(tmp_path, "node-filesystem-space-filling-up")
    assert 'section: "10.1"' in runbook
    # The rule's runbook_url, in the description and in the page.
    assert (
        "Rule runbook: https://runbooks.prometheus-operator.dev/runbooks/node/nodefilesystemspacefillingup"
        in runbook
    )
    assert "Runbook: {{ alert.annotations.runbook_url | default('') }}" in runbook
    assert "{{ alert.annotations.summary | default('') }}" in runbook
    assert (
        "runbook_url can point at its live page: <runbookd URL>/runbooks/node-filesystem-space-filling-up"
        in runbook
    )
    # Two rules share the name (warning and critical): the more severe one sets the severity.
    assert "again at line 17 (severity warning)" in runbook
    assert "severity: critical" in fires
    # The labels its annotations name, which the expression keeps.
    assert "group_by: [labels.device, labels.mountpoint, labels.instance]" in runbook
    # The rule's own hold is not added again.
    assert "The rule already holds for 1h before Prometheus sends it" in runbook
    assert "\n      for:" not in runbook
    # The near miss fires the file's closest other alert name.
    assert 'alertname: "NodeFilesystemFilesFillingUp"' in near
    # Where a person decides.
    for decide in ("the team that owns this alert", "who is paged and how", "the first step"):
        assert f"DECIDE: {decide}" in runbook


def test_an_aggregated_rule_groups_by_what_its_expression_keeps(tmp_path: Path) -> None:
    rule = (
        f"{AWESOME / 'keycloak' / 'aerogear-keycloak-metrics-spi.yml'}:KeycloakHighLoginFailureRate"
    )
    assert _scaffold(tmp_path, rule) == 0
    runbook, fires, _ = _written(tmp_path, "keycloak-high-login-failure-rate")
    # The summary names $labels.instance, but `sum by (realm)` drops it.
    assert "group_by: [labels.realm]" in runbook
    assert 'labels: {realm: "realm-1"}' in fires


def test_a_rule_without_for_says_so(tmp_path: Path) -> None:
    rule = f"{AWESOME / 'host-and-hardware' / 'node-exporter.yml'}:HostOomKillDetected"
    assert _scaffold(tmp_path, rule) == 0
    runbook, _, _ = _written(tmp_path, "host-oom-kill-detected")
    assert "The rule has no `for`: one evaluation fires it." in runbook


def test_the_scaffolded_runbook_covers_its_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = AWESOME / "host-and-hardware" / "node-exporter.yml"
    assert _scaffold(tmp_path, f"{path}:HostClockSkew") == 0
    capsys.readouterr()
    main(["coverage", "--rules", str(path), "--runbooks", str(tmp_path / "runbooks")])
    assert "  -> host-clock-skew / fires (opens an incident): matches" in capsys.readouterr().out


def test_unknown_alert_and_existing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = AWESOME / "keycloak" / "aerogear-keycloak-metrics-spi.yml"
    assert _scaffold(tmp_path, f"{path}:KeycloakHighLoginFailureRat") == 1
    assert (
        "no alerting rule named 'KeycloakHighLoginFailureRat' (did you mean 'KeycloakHighLoginFailureRate'?)"
        in capsys.readouterr().err
    )
    assert _scaffold(tmp_path, f"{path}:KeycloakHighLoginFailureRate") == 0
    edited = tmp_path / "runbooks" / "keycloak-high-login-failure-rate.yaml"
    edited.write_text(edited.read_text().replace("team: unassigned", "team: identity"))
    assert _scaffold(tmp_path, f"{path}:KeycloakHighLoginFailureRate") == 1
    assert "would overwrite" in capsys.readouterr().err
    assert "team: identity" in edited.read_text()  # a person's edits are never lost
    assert _scaffold(tmp_path, f"{path}:KeycloakHighLoginFailureRate", "--force") == 0
    assert "team: unassigned" in edited.read_text()
    assert _scaffold(tmp_path, "nowhere.yml:X") == 1


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", "critical"),
        ("error", "high"),
        ("high", "high"),
        ("warning", "medium"),
        ("info", "low"),
        ("none", "low"),
    ],
)
def test_severity_label_maps_onto_the_chapter_1_matrix(severity: str, expected: str) -> None:
    rule = AlertRule(
        file="r.yml",
        line=1,
        col=1,
        group="g",
        alert="A",
        expr="up == 0",
        labels={"severity": severity},
    )
    result = scaffold([rule], section="0", file="r.yml")
    assert f"severity: {expected}," in result.fires


def test_an_always_firing_rule_says_what_its_runbook_means(tmp_path: Path) -> None:
    assert _scaffold(tmp_path, f"{KUBE / 'kubePrometheus-prometheusRule.yaml'}:Watchdog") == 0
    runbook, _, _ = _written(tmp_path, "watchdog")
    assert "DECIDE: this rule always fires (a dead man's switch" in runbook
    assert "group_by: []" in runbook  # vector(1) is one series


def test_an_ordinary_rule_carries_no_dead_mans_switch_comment(tmp_path: Path) -> None:
    assert _scaffold(tmp_path, f"{KUBE / 'kubePrometheus-prometheusRule.yaml'}:TargetDown") == 0
    runbook, _, _ = _written(tmp_path, "target-down")
    assert "dead man's switch" not in runbook
