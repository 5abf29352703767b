"""What the meta-monitoring files ask of runbookd's /metrics: the PromQL in deploy/.

The rules (deploy/prometheus/rules/runbookd.yml) and the dashboard (deploy/grafana/runbookd.json)
may only name metrics a running service exports, with labels it sets. These helpers read the
expressions out of both files, find the runbookd metrics and labels each uses, and read what a
/metrics scrape offers, so a test can compare the two.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus" / "rules" / "runbookd.yml"
RULE_TESTS = REPO / "tests" / "prometheus" / "runbookd.test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "runbookd.json"

#: Labels Prometheus adds to every scraped series (target labels), and the histogram bucket label.
TARGET_LABELS = frozenset({"job", "instance", "le", "__name__"})

# Grafana's variables in the dashboard's queries, and what each stands for when the expression
# is checked as plain PromQL.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$job": "runbookd",
    "$instance": ".+",
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# runbookd's own metrics and the client library's process_* and python_info, which runbookd exports.
_SELECTOR = re.compile(r"\b((?:runbookd|process|python)_[a-zA-Z0-9_]+)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def alert_rules(path: Path = RULES) -> list[dict[str, Any]]:
    """Every alerting rule in a Prometheus rule file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    out: list[dict[str, Any]] = []
    for panel in board.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_exprs(board: dict[str, Any]) -> dict[str, str]:
    """``panel title / refId`` -> PromQL, and the template variables' queries."""
    exprs: dict[str, str] = {}
    for panel in panels(board):
        for target in panel.get("targets", []):
            exprs[f"{panel.get('title')} / {target.get('refId')}"] = target["expr"]
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var.get("query")
            text = query.get("query") if isinstance(query, dict) else query
            exprs[f"variable {var['name']}"] = str(text)
    return exprs


def as_promql(expr: str) -> str:
    """A Grafana query as plain PromQL: its variables replaced by what they stand for."""
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def variable_query_as_promql(expr: str) -> str:
    """``label_values(metric{...}, label)`` (Grafana's variable query) as the selector it reads."""
    found = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*", expr)
    return as_promql(found.group(1) if found else expr)


@dataclass
class Uses:
    """The runbookd metrics an expression reads, and the labels it expects on each."""

    metrics: set[str] = field(default_factory=set)
    labels: dict[str, set[str]] = field(default_factory=dict)


def uses(expr: str) -> Uses:
    """Metric names from selectors, labels from their matchers and from ``by (...)`` clauses.

    A grouping clause names labels of every metric it aggregates, so its labels are expected on
    each runbookd metric in the expression (target labels excepted: Prometheus adds those).
    """
    # Quoted strings hold label values and template text, never metric names.
    bare = _STRING.sub('""', expr)
    found = Uses()
    for name, braces in _SELECTOR.findall(bare):
        found.metrics.add(name)
        wanted = found.labels.setdefault(name, set())
        wanted.update(m[0] for m in _MATCHER.findall(braces or ""))
    grouped = {
        label.strip()
        for clause in _GROUPING.findall(bare)
        for label in clause.split(",")
        if label.strip()
    }
    for name in found.metrics:
        found.labels[name] |= grouped
        found.labels[name] -= TARGET_LABELS
    return found


@dataclass
class Exposition:
    """A /metrics scrape: every series name it declares, and the labels seen on each."""

    names: set[str] = field(default_factory=set)
    labels: dict[str, set[str]] = field(default_factory=dict)


_SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
}
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s")


def parse_exposition(text: str) -> Exposition:
    """Names come from ``# TYPE`` lines, so a labelled metric with no samples yet still counts
    as exported; labels come from the samples present."""
    out = Exposition()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            out.names.update(name + suffix for suffix in _SUFFIXES.get(kind, ("",)))
        elif line and not line.startswith("#"):
            sample = _SAMPLE.match(line)
            if sample is None:
                continue
            labels = out.labels.setdefault(sample.group(1), set())
            labels.update(m[0] for m in _MATCHER.findall(_STRING.sub('""', sample.group(2) or "")))
    return out


def missing(expressions: dict[str, str], scraped: Exposition) -> list[str]:
    """One line per metric or label an expression needs that the scrape does not offer."""
    problems = []
    for where, expr in sorted(expressions.items()):
        used = uses(expr)
        for name in sorted(used.metrics):
            if name not in scraped.names:
                problems.append(f"{where}: {name} is not exported")
                continue
            have = scraped.labels.get(name)
            if have is None:
                continue  # no samples to read labels from; the caller makes sure there are
            for label in sorted(used.labels[name] - have):
                problems.append(f"{where}: {name} has no label {label!r} (has {sorted(have)})")
    return problems
