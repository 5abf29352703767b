"""Chapters 6-9: the runbooks, rules and scenarios use only what the signals contract lists.

docs/order-platform-signals.md is what the simulated platform is built from, so a name a runbook
uses that the page does not list would answer 404 in the demo, and an alert no rule produces
would never reach its runbook. These tests read the shipping, delivery, returns and after-sales
runbooks, their rule file and their scenarios, and name every thing the page does not list,
including label values outside a closed set.
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
RULES = ROOT / "deploy" / "prometheus" / "rules" / "orders-ch6-9.yml"
PLATFORM = "http://127.0.0.1:8081"
CHAPTERS = ("06-shipping", "07-delivery", "08-returns", "09-aftersales")
SCENARIO_PREFIXES = ("06-", "07-", "08-", "09-")

_OPERATION = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/admin/[^\s`?]+)")
_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_METRIC = re.compile(r"\borders_[a-z_]+\b")
_CLOSED_SET = re.compile(r"^\| `([a-z_]+)` \| ((?:`[a-z0-9_-]+`(?:, )?)+) \|", re.M)


def _section() -> str:
    """The chapter 6-9 part of the page: names elsewhere on it belong to other runbooks."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Chapter 6")
    end = text.find("\n## Chapter 1", start)
    return text[start : end if end != -1 else len(text)]


def _chapter(number: int) -> str:
    text = _section()
    start = text.index(f"## Chapter {number}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _operations() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for method, path in _OPERATION.findall(_section()):
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path))
        found.append((method, re.compile(pattern + r"\Z")))
    return found


def _events() -> set[str]:
    """First-column names of the tables under the `#### Events` headings."""
    events: set[str] = set()
    heading = ""
    for line in _section().splitlines():
        if line.startswith("#"):
            heading = line
        elif heading == "#### Events" and (m := re.match(r"\| `([A-Z]\w+)` \|", line)):
            events.add(m.group(1))
    return events


def _closed_sets(text: str) -> dict[str, set[str]]:
    """The label tables at the head of a chapter: label -> its values."""
    return {
        label: set(re.findall(r"`([a-z0-9_-]+)`", values))
        for label, values in _CLOSED_SET.findall(text)
    }


#: The label tables that apply to each chapter's scenarios: its own, and chapter 6's shared ones
#: (warehouse, carrier, region, client). A label name means what its chapter says: chapter 6's
#: shipment-failure `reason` and chapter 8's return-rejection `reason` are different sets.
def _sets_for(chapter: int) -> dict[str, set[str]]:
    return {**_closed_sets(_chapter(6)), **_closed_sets(_chapter(chapter))}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _runbooks() -> list[Path]:
    return sorted(p for c in CHAPTERS for p in (ROOT / "runbooks" / c).glob("*.yaml"))


def _scenarios() -> list[Path]:
    return sorted(
        p for p in (ROOT / "tests" / "scenarios").glob("*.yaml") if p.name[:3] in SCENARIO_PREFIXES
    )


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _matched_names(runbook: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for node in _walk(runbook["detection"]):
        if isinstance(node, dict) and node.get("field") == "name":
            names.update(str(n) for n in ([node["eq"]] if "eq" in node else node.get("in", [])))
    return names


def _rule_alerts() -> set[str]:
    return {rule["alert"] for group in _load(RULES)["groups"] for rule in group["rules"]}


def test_the_runbooks_are_there() -> None:
    assert len(_runbooks()) >= 12, [p.name for p in _runbooks()]


@pytest.mark.parametrize("path", _runbooks(), ids=lambda p: p.name)
def test_runbook_uses_only_documented_signals(path: Path) -> None:
    runbook = _load(path)
    section, operations = _section(), _operations()
    produced = _rule_alerts() | _events()
    problems = [
        f"{name!r} is matched but no rule in {RULES.name} and no documented event produces it"
        for name in sorted(_matched_names(runbook))
        if name not in produced
    ]
    for call in (n for n in _walk(runbook) if isinstance(n, dict) and "connector" in n):
        params = call.get("params") or {}
        url = params.get("url")
        if call["connector"] == "http" and isinstance(url, str) and url.startswith(PLATFORM):
            method = str(params.get("method", "POST")).upper()
            path_part = _TEMPLATE.sub("x", url[len(PLATFORM) :]).split("?", 1)[0]
            if not any(m == method and p.match(path_part) for m, p in operations):
                problems.append(f"admin operation {method} {path_part} is not in the contract")
        if call["connector"] == "prometheus":
            for metric in sorted(set(_METRIC.findall(str(params.get("query", ""))))):
                if f"`{metric}`" not in section:
                    problems.append(f"metric {metric!r} is not in the contract")
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_alerting_rules_are_documented() -> None:
    section = _section()
    problems: list[str] = []
    for group in _load(RULES)["groups"]:
        for rule in group["rules"]:
            alert = rule["alert"]
            if f"| `{alert}` |" not in section:
                problems.append(f"alert {alert!r} has no row in the contract")
            for metric in sorted(set(_METRIC.findall(rule["expr"]))):
                if f"`{metric}`" not in section:
                    problems.append(f"{alert}: metric {metric!r} is not in the contract")
            labels = rule.get("labels", {})
            if labels.get("severity") not in ("warning", "critical"):
                problems.append(f"{alert}: severity must be warning or critical")
            if labels.get("team") not in ("logistics", "aftersales"):
                problems.append(f"{alert}: team must be logistics or aftersales")
            if not {"summary", "description"} <= rule.get("annotations", {}).keys():
                problems.append(f"{alert}: needs summary and description annotations")
    assert not problems, "\n".join(problems)


def test_scenarios_use_only_documented_label_values() -> None:
    """A scenario with a warehouse the simulator does not have proves nothing about the demo."""
    shared = {"warehouse", "carrier", "region", "client"}
    assert shared <= _sets_for(6).keys()
    assert {"packaging"} <= _sets_for(7).keys()
    assert {"reason", "route"} <= _sets_for(8).keys()
    assert {"contact", "category", "kind"} <= _sets_for(9).keys()
    problems = []
    for path in _scenarios():
        sets = _sets_for(int(path.name[:2]))
        for node in _walk(_load(path)["timeline"]):
            if isinstance(node, dict) and isinstance(node.get("labels"), dict):
                for label, value in node["labels"].items():
                    if label in sets and str(value) not in sets[label]:
                        problems.append(
                            f"{path.name}: {label}={value!r} not in {sorted(sets[label])}"
                        )
    assert not problems, "\n".join(problems)
