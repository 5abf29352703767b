"""runbookd's own alerting rules follow the conventions people route and read alerts by.

Each alert carries a severity Alertmanager routes on, a summary, a description and a
runbook_url that leads to its section in docs/operations.md; and each has promtool unit tests
both ways: a case where it fires and a case where it must not.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.promql import REPO, RULE_TESTS, alert_rules

OPERATIONS = REPO / "docs" / "operations.md"
RULES = alert_rules()


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _cases() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    return [case for test in data["tests"] for case in test.get("alert_rule_test", [])]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["alert"])
def test_alert_has_severity_and_the_annotations_people_read(rule: dict[str, Any]) -> None:
    assert rule["alert"].startswith("Runbookd"), "one prefix, so a route can match them all"
    assert rule["labels"]["severity"] in {"critical", "warning"}
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    page, _, anchor = annotations["runbook_url"].partition("#")
    assert page == "docs/operations.md"
    headings = re.findall(r"^#+ (.+)$", OPERATIONS.read_text(encoding="utf-8"), re.M)
    assert anchor in {_anchor(h) for h in headings}, f"no heading in {page} for #{anchor}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r["alert"])
def test_alert_has_unit_tests_that_fire_and_that_stay_quiet(rule: dict[str, Any]) -> None:
    cases = [c for c in _cases() if c["alertname"] == rule["alert"]]
    assert any(c["exp_alerts"] for c in cases), f"no case where {rule['alert']} fires"
    assert any(not c["exp_alerts"] for c in cases), f"no case where {rule['alert']} stays quiet"
