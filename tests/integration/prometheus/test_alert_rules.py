"""The Prometheus alerting rules in deploy/ are valid and behave as their unit tests say.

``promtool check rules`` on every rule file, and ``promtool test rules`` on every unit-test file
in tests/prometheus/ (series in, alerts out, on promtool's own clock). Skipped, with the reason,
only where promtool is not installed, and failed then under CI=true.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.tools import need

ROOT = Path(__file__).parents[3]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
UNIT_TESTS = sorted((ROOT / "tests" / "prometheus").glob("*.test.yml"))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need("promtool", "prometheus"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_rule_file_is_valid(path: Path) -> None:
    done = _promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_rules_behave_as_their_unit_tests_say(path: Path) -> None:
    done = _promtool("test", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
