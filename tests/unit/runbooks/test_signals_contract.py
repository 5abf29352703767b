"""The business runbooks and alerting rules use only names the signals contract lists.

docs/order-platform-signals.md says a name used by a runbook, a rule or the simulator that is not
on the page is a bug: the simulator is built from the page, so an unlisted admin path would answer
404 in the demo and an unlisted alert would never reach the runbook. These tests read the runbooks
of the chapters listed in CHAPTERS and their rule files and name every unlisted thing they find.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[3]
DOC = ROOT / "docs" / "order-platform-signals.md"
PLATFORM = "http://127.0.0.1:8081"

#: Runbook folders and rule files checked here (plan chapters 2-5).
CHAPTERS = ("02-orders", "03-payment", "04-cancellation", "05-modification")
RULE_FILES = ("orders-ch2-5.yml",)

_DOC_OPERATION = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/admin/[^\s`?]+)")
_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_METRIC = re.compile(r"\borders_[a-z_]+\b")


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _documented_operations() -> list[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) for every admin operation on the page; `{x}` matches a segment."""
    found = []
    for method, path in _DOC_OPERATION.findall(_doc()):
        pattern = re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
        pattern = re.sub(r"\{[a-z_]+\}", "[^/]+", pattern)
        found.append((method, re.compile(pattern + r"\Z")))
    return found


def _documented_events() -> set[str]:
    """Names in the first column of every table under an `### Events` heading."""
    events: set[str] = set()
    heading = ""
    for line in _doc().splitlines():
        if line.startswith("#"):
            heading = line
        elif heading.startswith("### Events") and (
            m := re.match(r"\| `([A-Z][A-Za-z]+)` \|", line)
        ):
            events.add(m.group(1))
    return events


def _runbook_files() -> list[Path]:
    return sorted(p for c in CHAPTERS for p in (ROOT / "runbooks" / c).glob("*.yaml"))


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _calls(runbook: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every connector call of the runbook: levels, steps, checks, rollbacks, impact figures."""
    for node in _walk(runbook):
        if isinstance(node, dict) and "connector" in node:
            yield node


def _matched_names(runbook: dict[str, Any]) -> set[str]:
    """Alert and event names the runbook's conditions test (`name` with eq or in)."""
    names: set[str] = set()
    for node in _walk(runbook.get("detection", {})):
        if isinstance(node, dict) and node.get("field") == "name":
            if "eq" in node:
                names.add(str(node["eq"]))
            names.update(str(n) for n in node.get("in", []))
    return names


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


@pytest.mark.parametrize("path", _runbook_files(), ids=lambda p: p.name)
def test_runbook_uses_only_documented_signals(path: Path) -> None:
    runbook = _load(path)
    doc = _doc()
    operations = _documented_operations()
    problems: list[str] = []
    for name in sorted(_matched_names(runbook)):
        if f"`{name}`" not in doc:
            problems.append(f"alert or event {name!r} is not in the contract")
    for call in _calls(runbook):
        params = call.get("params") or {}
        url = params.get("url")
        if call["connector"] == "http" and isinstance(url, str) and url.startswith(PLATFORM):
            method = str(params.get("method", "POST")).upper()
            path_part = _TEMPLATE.sub("x", url[len(PLATFORM) :]).split("?", 1)[0]
            if not any(m == method and p.match(path_part) for m, p in operations):
                problems.append(f"admin operation {method} {path_part} is not in the contract")
        if call["connector"] == "prometheus":
            for metric in sorted(set(_METRIC.findall(str(params.get("query", ""))))):
                if f"`{metric}`" not in doc:
                    problems.append(f"metric {metric!r} is not in the contract")
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", RULE_FILES)
def test_alerting_rules_are_documented(name: str) -> None:
    rules = _load(ROOT / "deploy" / "prometheus" / "rules" / name)
    doc = _doc()
    problems: list[str] = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            alert = rule["alert"]
            if f"| `{alert}` |" not in doc:
                problems.append(f"alert {alert!r} has no row in the contract")
            for metric in sorted(set(_METRIC.findall(rule["expr"]))):
                if f"`{metric}`" not in doc:
                    problems.append(f"{alert}: metric {metric!r} is not in the contract")
            labels = rule.get("labels", {})
            if labels.get("severity") not in ("warning", "critical") or not labels.get("team"):
                problems.append(f"{alert}: needs severity warning|critical and a team label")
            annotations = rule.get("annotations", {})
            if not {"summary", "description"} <= annotations.keys():
                problems.append(f"{alert}: needs summary and description annotations")
    assert not problems, "\n".join(problems)


def test_every_alert_a_runbook_matches_has_a_rule() -> None:
    """An alert name a runbook waits for must come from some rule, or it never fires."""
    rule_alerts = {
        rule["alert"]
        for name in RULE_FILES
        for group in _load(ROOT / "deploy" / "prometheus" / "rules" / name)["groups"]
        for rule in group["rules"]
    }
    events = _documented_events()
    missing = sorted(
        f"{path.name}: {n}"
        for path in _runbook_files()
        for n in _matched_names(_load(path))
        if n not in rule_alerts and n not in events
    )
    assert not missing, "matched names that no rule or documented event produces:\n" + "\n".join(
        missing
    )
