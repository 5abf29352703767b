"""``runbookd check`` on ``detection.inhibited_by``: unknown ids, circles and the rest, each as
``PATH:LINE:COL: message`` at the entry at fault."""

from __future__ import annotations

from pathlib import Path

from runbookd.toolchain.library import load_library

HEAD = """runbook: 1
id: {id}
title: T
team: t
section: "1.1"
classification: {{nature: infrastructure, scope: local, complexity: simple}}
detection:
{extra}  triggers:
    - match: {{field: name, eq: {id}}}
"""


def write(folder: Path, rid: str, extra: str = "") -> None:
    (folder / f"{rid}.yaml").write_text(HEAD.format(id=rid, extra=extra), encoding="utf-8")


def problems(folder: Path) -> list[str]:
    library = load_library([folder], load_rules=False)
    return [str(d).removeprefix(f"{folder}/") for d in library.diagnostics]


def test_an_unknown_runbook_is_named_with_the_closest_one(tmp_path: Path) -> None:
    write(tmp_path, "database-abnormal")
    write(tmp_path, "orders", "  inhibited_by:\n    - runbook: database-abnormall\n")
    assert problems(tmp_path) == [
        "orders.yaml:9:16: no runbook 'database-abnormall' is loaded"
        " (did you mean 'database-abnormal'?)"
    ]


def test_a_library_without_the_inhibitor_is_refused_and_drops_only_that_runbook(
    tmp_path: Path,
) -> None:
    write(tmp_path, "orders", "  inhibited_by:\n    - runbook: db\n")
    write(tmp_path, "other")
    library = load_library([tmp_path], load_rules=False)
    assert [str(d).removeprefix(f"{tmp_path}/") for d in library.diagnostics] == [
        "orders.yaml:9:16: no runbook 'db' is loaded"
    ]
    assert [item.runbook.id for item in library.loaded] == ["other"]


def test_a_circle_is_refused_at_each_of_its_entries(tmp_path: Path) -> None:
    write(tmp_path, "a", "  inhibited_by:\n    - runbook: b\n")
    write(tmp_path, "b", "  inhibited_by:\n    - runbook: c\n")
    write(tmp_path, "c", "  inhibited_by:\n    - runbook: a\n")
    found = problems(tmp_path)
    assert len(found) == 3
    assert found[0] == (
        "a.yaml:9:16: inhibitions go round in a circle (a -> b -> c -> a inhibited by each"
        " next): whichever opened first would hide the others; remove one of them"
    )


def test_itself_a_fallback_and_a_path_that_is_no_label_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "net", "  fallback: true\n")
    write(
        tmp_path,
        "orders",
        "  inhibited_by:\n    - runbook: orders\n    - runbook: net\n"
        "    - {runbook: db, equal: [labels.instance, name]}\n",
    )
    write(tmp_path, "db")
    assert problems(tmp_path) == [
        "orders.yaml:9:16: a runbook cannot inhibit itself",
        "orders.yaml:10:16: 'net' is a fallback runbook; it cannot inhibit",
        "orders.yaml:11:46: equal takes labels.* paths (like labels.instance), not 'name'",
    ]


def test_the_bundled_library_checks_clean() -> None:
    root = Path(__file__).resolve().parents[3] / "runbooks"
    assert load_library([root], load_rules=False).diagnostics == []
