"""docs/oncall.md's example loads clean and behaves as the page says."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from runbookd.oncall.loader import load_texts

DOC = (Path(__file__).parents[3] / "docs" / "oncall.md").read_text(encoding="utf-8")
BERLIN = ZoneInfo("Europe/Berlin")


def test_the_example_schedule_checks_clean_and_resolves_as_described() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    assert len(blocks) == 1
    lib = load_texts([("example.yaml", blocks[0])])
    assert lib.ok, [str(d) for d in lib.diagnostics]
    r = lib.resolver("payments-primary")

    def who(*args: int) -> tuple[str, str] | None:
        found = r.who(datetime(*args, tzinfo=BERLIN))  # type: ignore[misc]
        return None if found is None else (found.person, found.via)

    assert who(2026, 3, 25, 10, 0) == ("alice", "business-hours")
    assert who(2026, 3, 25, 13, 0) == ("bob", "override")
    assert who(2026, 3, 25, 18, 0) == ("carol", "around-the-clock")
    assert who(2026, 3, 23, 8, 0) is None  # before any rotation starts
