"""A repository of runbooks as a user's CI sees it, for the GitHub Action and pre-commit tests.

``broken`` adds a runbook with an unknown connector and breaks one expectation of a scenario, at
known positions, so a test can check that each problem is reported on its line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.deploy_files import REPO

RUNBOOK = "runbooks/02-orders/duplicate-orders.yaml"
SCENARIO = "tests/scenarios/02-duplicate-orders-handled.yaml"
BAD_RUNBOOK = """runbook: 1
id: bad
title: Bad connector
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  triggers:
    - id: down
      match: {field: name, eq: X}
handling:
  steps:
    - id: note
      connector: lgo
      params: {message: "a"}
"""


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    col: int
    text: str


#: What ``broken`` introduces, and where.
UNKNOWN_CONNECTOR = Problem("runbooks/bad.yaml", 14, 18, "unknown connector 'lgo'")
WRONG_SEVERITY = Problem(
    "tests/scenarios/02-duplicate-orders-handled.yaml",
    34,
    5,
    "incident of duplicate-orders at 3m status=open severity=critical",
)


def runbook_repository(root: Path, *, broken: bool) -> Path:
    """One bundled runbook and its scenario (at the same relative paths), optionally broken."""
    for relative in (RUNBOOK, SCENARIO):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, root / relative)
    if broken:
        (root / UNKNOWN_CONNECTOR.file).write_text(BAD_RUNBOOK)
        scenario = root / SCENARIO
        text = scenario.read_text()
        lines = text.splitlines(keepends=True)
        assert "severity: medium" in lines[WRONG_SEVERITY.line - 1]
        lines[WRONG_SEVERITY.line - 1] = lines[WRONG_SEVERITY.line - 1].replace(
            "severity: medium", "severity: critical"
        )
        scenario.write_text("".join(lines))
    return root
