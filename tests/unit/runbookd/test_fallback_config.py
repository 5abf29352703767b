"""``fallback_runbook``: the named fallback runbook is loaded, others are not, a bad name fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbookd.cli.main import main
from runbookd.toolchain.library import load_library, select_fallback

REPO = Path(__file__).resolve().parents[3]


def ids(name: str | None) -> set[str]:
    library = load_library([REPO / "runbooks"], load_rules=False)
    select_fallback(library, name)
    assert library.ok, library.diagnostics
    return {item.runbook.id for item in library.loaded}


def test_only_the_named_fallback_runbook_is_loaded() -> None:
    assert "unhandled-alert" in ids("unhandled-alert")
    off = ids(None)
    assert "unhandled-alert" not in off and "system-crash" in off


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("unhandled-alerts", "no runbook 'unhandled-alerts' is loaded"),
        ("system-crash", "'system-crash' is not a fallback runbook"),
    ],
)
def test_a_bad_fallback_name_fails_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, says: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"runbooks: [{REPO / 'runbooks'}]\nfallback_runbook: {name}\n")
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "fallback_runbook" in err and says in err


def test_null_turns_it_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"runbooks: [{REPO / 'runbooks'}]\nfallback_runbook: null\n")
    assert main(["check-config", str(config)]) == 0
