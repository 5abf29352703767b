"""Chapters 10-11: the runbooks match only signals that something produces.

An alert name a runbook waits for that no rule defines would never reach it, and an admin call
the signals page does not list would answer 404 from the simulated platform. These tests read the
system, network and security runbooks written from those chapters, their rule file and their
scenarios, and name every signal or operation that nothing documents.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[3]
DOC = ROOT / "docs" / "order-platform-signals.md"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "infra-security.yml"
PLATFORM = "http://127.0.0.1:8081"
INFRA = [
    ROOT / "runbooks/10-system/system-crash.yaml",
    ROOT / "runbooks/10-network/network-failure.yaml",
]
SECURITY = [
    ROOT / "runbooks/11-security/data-leak.yaml",
    ROOT / "runbooks/11-security/online-fraud.yaml",
    ROOT / "runbooks/11-security/impersonation-scam.yaml",
]
SCENARIOS = ("10-system-", "10-network-", "11-data-leak-", "11-online-fraud-", "11-impersonation-")

_OPERATION = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/admin/[^\s`?]+)")
_CLOSED_SET = re.compile(r"^\| `([a-z_]+)`[^|]*\| ((?:`[a-z0-9_-]+`(?:, )?)+) \|", re.M)


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Chapter 11")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _names(runbook: dict[str, Any]) -> set[str]:
    """Every event name a runbook's conditions test (triggers, raise, verify, resolution)."""
    names: set[str] = set()
    for leaf in _walk(runbook):
        if leaf.get("field") in ("name", "alert.name"):
            if "eq" in leaf:
                names.add(str(leaf["eq"]))
            names.update(str(v) for v in leaf.get("in", []))
    return names


def _calls(runbook: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(method, url) of every http call: steps, verify checks, rollbacks, impact figures."""
    for node in _walk(runbook):
        if node.get("connector") == "http":
            params = node.get("params", {})
            yield str(params.get("method", "POST")).upper(), str(params["url"])


def _rule_alerts() -> set[str]:
    return {
        rule["alert"]
        for group in _load(RULES)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def _doc_events() -> set[str]:
    return set(re.findall(r"^\| `([A-Z]\w+)` \| `", _section(), re.M))


def test_infra_runbooks_match_only_alerts_the_rules_define() -> None:
    alerts = _rule_alerts()
    missing = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in INFRA
        for name in _names(_load(path))
        if name not in alerts
    }
    assert not missing, "alerts no rule in infra-security.yml defines:\n" + "\n".join(
        sorted(missing)
    )


def test_security_runbooks_match_only_events_the_page_lists() -> None:
    events = _doc_events()
    assert {"SensitiveDataExported", "PaymentInstrumentLinked", "ImpersonationReported"} <= events
    missing = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in SECURITY
        for name in _names(_load(path))
        if name not in events
    }
    assert not missing, "events chapter 11 does not list:\n" + "\n".join(sorted(missing))


def test_platform_calls_are_documented_operations() -> None:
    operations = [
        (method, re.compile(re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path)) + r"\Z"))
        for method, path in _OPERATION.findall(_section())
    ]
    undocumented = []
    for path in SECURITY:
        for method, url in _calls(_load(path)):
            if not url.startswith(PLATFORM):
                continue
            # Templates stand for one path segment; the query string is not part of the path.
            concrete = re.sub(r"\{\{.*?\}\}", "x", url[len(PLATFORM) :]).split("?", 1)[0]
            if not any(m == method and p.match(concrete) for m, p in operations):
                undocumented.append(f"{path.relative_to(ROOT)}: {method} {concrete}")
    assert not undocumented, "admin operations chapter 11 does not list:\n" + "\n".join(
        undocumented
    )


def test_scenarios_use_listed_signals_and_label_values() -> None:
    alerts, events = _rule_alerts(), _doc_events()
    closed = {
        label: set(re.findall(r"`([a-z0-9_-]+)`", values))
        for label, values in _CLOSED_SET.findall(_section())
    }
    problems = []
    for path in sorted((ROOT / "tests" / "scenarios").glob("*.yaml")):
        if not path.name.startswith(SCENARIOS):
            continue
        for entry in _load(path)["timeline"]:
            if "alert" in entry:
                name = entry["alert"]["labels"]["alertname"]
                if name not in alerts:
                    problems.append(f"{path.name}: alert {name} has no rule")
            for event in (
                (entry.get("event") or [])
                if isinstance(entry.get("event"), list)
                else [entry.get("event")]
            ):
                if not event:
                    continue
                if event["name"] not in events:
                    problems.append(f"{path.name}: event {event['name']} is not listed")
                for label, value in event.get("labels", {}).items():
                    allowed = closed.get(label)
                    if allowed is not None and label != "channel" and str(value) not in allowed:
                        problems.append(f"{path.name}: {label}={value!r} not in {sorted(allowed)}")
    assert not problems, "\n".join(problems)


def test_rules_file_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rule_alerts())} rules found" in result.stdout
