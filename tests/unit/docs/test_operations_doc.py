"""docs/operations.md stays true: its metrics table is what runbookd exports, and the
Prometheus and Alertmanager configuration it shows loads and routes as it says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase

from runbookd.service.metrics import Metrics
from tests.promql import REPO, RULES, alert_rules
from tests.tools import need
from tests.unit.docs.test_language_doc import yaml_blocks

DOC = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
_ROW = re.compile(r"^\| `(runbookd_[a-z0-9_]+)` \| ([a-z]+)[^|]*\|([^|]*)\|", re.M)


def _exported() -> dict[str, tuple[str, set[str]]]:
    """name -> (type, label names) of every metric the service defines."""
    out = {}
    for value in vars(Metrics()).values():
        if isinstance(value, MetricWrapperBase):
            family = next(iter(value.describe()))
            name = family.name + ("_total" if family.type == "counter" else "")
            # prometheus_client keeps label names only here; describe() does not carry them.
            out[name] = (family.type, set(value._labelnames))
    return out


def _documented() -> dict[str, tuple[str, set[str]]]:
    return {
        name: (kind, set(re.findall(r"`([a-z_]+)`", labels)))
        for name, kind, labels in _ROW.findall(DOC)
    }


def test_the_metrics_table_lists_every_metric_with_its_type_and_labels() -> None:
    assert _documented() == _exported()


def _block(starting: str) -> str:
    return next(b for b in yaml_blocks(DOC) if b.startswith(starting))


def test_the_prometheus_example_loads_the_rules(tmp_path: Path) -> None:
    config = _block("# prometheus.yml").replace("/etc/prometheus/rules/runbookd.yml", str(RULES))
    (tmp_path / "prometheus.yml").write_text(config)
    done = subprocess.run(
        [need("promtool", "prometheus"), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 14 rules found" in done.stdout


@pytest.fixture
def alertmanager_config(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(_block("# alertmanager.yml"))
    return path


def _route(config: Path, alertname: str) -> str:
    done = subprocess.run(
        [need("amtool", "prometheus-alertmanager"), "config", "routes", "test"]
        + [f"--config.file={config}", f"alertname={alertname}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_the_alertmanager_example_sends_runbookd_alerts_around_runbookd(
    alertmanager_config: Path,
) -> None:
    for rule in alert_rules():
        assert _route(alertmanager_config, rule["alert"]) == "oncall-pager", rule["alert"]
    assert _route(alertmanager_config, "PaymentFailureRateHigh") == "runbookd"


def test_reloading_names_what_a_reload_applies_and_what_needs_a_restart() -> None:
    from runbookd.config.settings import Settings
    from runbookd.server.reload import RELOADABLE

    section = DOC[DOC.index("## Reloading") : DOC.index("## Grafana dashboard")]
    table = set(re.findall(r"^\| `([a-z_]+)` ", section, re.M))
    assert table == RELOADABLE
    others = section[section.index("Every other key (") :].split(")", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", others)) == set(Settings.model_fields) - RELOADABLE
