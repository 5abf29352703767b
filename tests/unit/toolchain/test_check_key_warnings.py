"""``runbookd check --rules``: a group_by label the matching rules' alerts may lack is a warning
at the group_by entry; the bundled 10.1 and 10.2 runbooks raise none on the real rule files."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbookd.cli.main import main

ROOT = Path(__file__).parents[3]
NODE = (
    ROOT.parent
    / "shared/reference/prometheus-rules/awesome-prometheus-alerts/dist/rules/host-and-hardware"
)
REFERENCE = ROOT.parent / "shared" / "reference" / "prometheus-rules"
RUNBOOK = """runbook: 1
id: hosts
title: Hosts
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.service]
  triggers:
    - match: %s
"""


def check(tmp_path: Path, capsys: pytest.CaptureFixture[str], match: str) -> tuple[int, str]:
    (tmp_path / "hosts.yaml").write_text(RUNBOOK % match)
    code = main(["check", str(tmp_path / "hosts.yaml"), "--rules", str(NODE)])
    return code, capsys.readouterr().err


def test_a_label_the_rules_do_not_set_is_a_warning_at_group_by(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = check(tmp_path, capsys, "{field: name, eq: HostOutOfMemory}")
    assert code == 0  # a warning: only the running Prometheus knows every label
    [line] = [x for x in err.splitlines() if "warning" in x]
    assert line.startswith(
        f"{tmp_path / 'hosts.yaml'}:8:14: warning: hosts: group_by labels.service"
    )
    assert "alerts without service share one incident (key labels.service=)" in line
    assert "HostOutOfMemory (" in line and "node-exporter.yml:" in line


def test_a_trigger_that_requires_the_label_is_not_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    required = "{all: [{field: name, eq: HostOutOfMemory}, {field: labels.service, exists: true}]}"
    code, err = check(tmp_path, capsys, required)
    assert code == 0 and "warning" not in err


def test_the_bundled_host_and_network_runbooks_key_on_labels_the_rules_carry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    deploy = ROOT / "deploy" / "prometheus" / "rules"
    assert main(["check", str(ROOT / "runbooks"), "--rules", str(REFERENCE), str(deploy)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err  # the check runs: other runbooks' app labels are flagged
    assert "system-crash:" not in err and "network-failure:" not in err
    assert "database-abnormal:" not in err


def test_rules_that_hold_no_alerting_rule_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty.yml").write_text("groups: []\n")
    assert main(["check", str(ROOT / "runbooks"), "--rules", str(tmp_path / "empty.yml")]) == 1
    assert "no alerting rules" in capsys.readouterr().err
