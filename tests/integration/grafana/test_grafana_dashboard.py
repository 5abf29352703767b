"""deploy/grafana/runbookd.json imports into Grafana and its queries are valid PromQL on
metrics runbookd exports.

Grafana itself is not available here, so the test checks what an import needs (a uid, a title,
a schema version, a Prometheus data source variable that every panel and query uses, a layout
on Grafana's 24-column grid), that every query names only runbookd metrics and labels the
service defines, and that promtool parses every query (each one as a recording rule). The
real-server check of the same queries is tests/e2e/test_meta_metrics.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import generate_latest

from runbookd.service.metrics import Metrics
from tests.promql import (
    DASHBOARD,
    as_promql,
    dashboard,
    dashboard_exprs,
    missing,
    panels,
    parse_exposition,
    uses,
    variable_query_as_promql,
)
from tests.tools import need

BOARD = dashboard()
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
CORE_PANELS = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "text"}


def _variables() -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in BOARD["templating"]["list"]}


def test_it_has_what_a_grafana_import_needs() -> None:
    # docs/operations.md names this uid: re-importing replaces the dashboard instead of copying it
    assert BOARD["uid"] == "runbookd-overview"
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,40}", BOARD["uid"])
    assert BOARD["title"] == "runbookd"
    assert BOARD["id"] is None  # an import creates the dashboard instead of overwriting an id
    assert isinstance(BOARD["schemaVersion"], int)
    source = _variables()["datasource"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    assert {"job", "instance"} <= set(_variables())


def test_every_panel_and_query_reads_the_chosen_prometheus() -> None:
    ids = [p["id"] for p in panels(BOARD)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(BOARD):
        assert panel["type"] in CORE_PANELS, panel["title"]
        assert panel["title"].strip()
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip()
            # Every query follows the job and instance pickers, so two runbookds never mix.
            for selector in re.findall(r"\b(?:runbookd_[a-z0-9_]+|up)\{([^}]*)\}", target["expr"]):
                assert 'job="$job"' in selector and 'instance=~"$instance"' in selector, (
                    panel["title"],
                    selector,
                )
    for name in ("job", "instance"):
        assert _variables()[name]["datasource"] == DATASOURCE


def test_panels_sit_on_the_grid_without_overlapping() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(BOARD):
        pos = panel["gridPos"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_queries_name_only_metrics_and_labels_runbookd_defines() -> None:
    metrics = Metrics()
    # One sample of every labelled metric, so the scrape shows each one's label names.
    for value in vars(metrics).values():
        names = getattr(value, "_labelnames", ())
        if names:
            value.labels(*["x"] * len(names))
    scraped = parse_exposition(generate_latest(metrics.registry).decode())
    exprs = dashboard_exprs(BOARD)
    assert missing(exprs, scraped) == []
    used = set().union(*(uses(e).metrics for e in exprs.values()))
    # The dashboard shows every metric runbookd has (histograms by their buckets).
    defined = {n for n in scraped.names if not n.endswith(("_created", "_count", "_sum"))}
    defined = {n.removesuffix("_bucket") for n in defined}
    shown = {n.removesuffix("_bucket").removesuffix("_count") for n in used}
    assert sorted(defined - shown) == []


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    rules = []
    for i, (where, expr) in enumerate(sorted(dashboard_exprs(BOARD).items())):
        promql = variable_query_as_promql(expr) if where.startswith("variable") else as_promql(expr)
        assert "$" not in promql, f"{where}: a Grafana variable the test does not know: {promql}"
        rules.append({"record": f"dashboard:query_{i}", "expr": promql})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": DASHBOARD.name, "rules": rules}]}))
    done = subprocess.run(
        [need("promtool", "prometheus"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout
