"""Reading real Prometheus rule files: plain files and kube-prometheus PrometheusRule manifests."""

from __future__ import annotations

from pathlib import Path

from runbookd.toolchain.rules_files import load_rules

ROOT = Path(__file__).parents[3]
REFERENCE = ROOT.parent / "shared" / "reference" / "prometheus-rules"
KUBE = REFERENCE / "kube-prometheus" / "manifests" / "nodeExporter-prometheusRule.yaml"


def test_prometheus_rule_manifest_spec_groups() -> None:
    rules = load_rules([KUBE])
    assert rules.diagnostics == []
    # The manifest's README count: 26 alerts and 15 recording rules.
    assert len(rules.rules) == 26
    assert rules.recording == 15
    first = rules.rules[0]
    assert first.alert == "NodeFilesystemSpaceFillingUp"
    lines = KUBE.read_text().splitlines()
    assert "alert: NodeFilesystemSpaceFillingUp" in lines[first.line - 1]
    assert first.for_ == "1h"
    assert first.annotations["runbook_url"].startswith("https://runbooks.prometheus-operator.dev/")


def test_plain_rule_file_with_for_zero_means_no_hold() -> None:
    path = (
        REFERENCE
        / "awesome-prometheus-alerts"
        / "dist"
        / "rules"
        / "host-and-hardware"
        / "node-exporter.yml"
    )
    oom = next(r for r in load_rules([path]).rules if r.alert == "HostOomKillDetected")
    assert oom.for_ is None  # written `for: 0m`
    assert oom.severity == "warning"


def test_problems_are_positioned_and_cost_only_their_rule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        "      - alert: Good\n"
        "        expr: up == 0\n"
        "      - alert: NoExpr\n"
        "        labels: {severity: warning}\n"
        "      - expr: up\n"
    )
    rules = load_rules([bad])
    assert [r.alert for r in rules.rules] == ["Good"]
    assert [str(d) for d in rules.diagnostics] == [
        f"{bad}:6:9: rule 'NoExpr': `expr` must be text",
        f"{bad}:8:9: a rule needs `alert:` (or `record:`)",
    ]


def test_yaml_errors_and_missing_paths(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: [\n")
    rules = load_rules([broken, tmp_path / "nowhere.yml"])
    messages = [str(d) for d in rules.diagnostics]
    assert messages[0].startswith(f"{tmp_path / 'nowhere.yml'}:1:1: no such file")
    assert messages[1].startswith(f"{broken}:3:1: YAML syntax error")


def test_a_manifest_with_several_objects_and_a_list(tmp_path: Path) -> None:
    manifest = tmp_path / "monitoring.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n"
        "---\n"
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: one}\n"
        "spec:\n  groups:\n    - name: g1\n      rules:\n        - alert: First\n          expr: up == 0\n"
        "---\n"
        "---\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - apiVersion: monitoring.coreos.com/v1\n    kind: PrometheusRule\n    metadata: {name: two}\n"
        "    spec:\n      groups:\n        - name: g2\n          rules:\n"
        "            - alert: Second\n              expr: up == 0\n"
    )
    rules = load_rules([manifest])
    assert rules.diagnostics == []
    lines = manifest.read_text().splitlines()
    assert [(r.alert, r.group) for r in rules.rules] == [("First", "g1"), ("Second", "g2")]
    for rule in rules.rules:
        assert lines[rule.line - 1].strip() == f"- alert: {rule.alert}"
