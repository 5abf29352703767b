"""docs/adoption.md stays true: every `$ runbookd ...` example prints the lines it shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from runbookd.cli.main import main

ROOT = Path(__file__).parents[3]
DOC = (ROOT / "docs" / "adoption.md").read_text(encoding="utf-8")
_BLOCK = re.compile(r"^```\n\$ (runbookd [^\n]+)\n(.*?)^```", re.M | re.S)
EXAMPLES = _BLOCK.findall(DOC)


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_example_prints_what_the_doc_shows(
    command: str, shown: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)  # the examples run from the repository's root, as a reader would
    main(shlex.split(command)[1:])
    printed = capsys.readouterr().out.splitlines()
    for line in shown.splitlines():
        assert line in printed, line
