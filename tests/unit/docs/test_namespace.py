"""One namespace: our code is imported as runbookd.engine, runbookd.alerts, runbookd.connectors.

The top-level folders engine/, alerts/ and connectors/ are the project's fixed layout; installed,
they live inside the runbookd package (symlinks in runbookd/, docs/decisions.md "One namespace"),
so no top-level `engine` of ours collides with another distribution's. A module imported under
both names would run twice, with two copies of its state: nothing may import the old names.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FOLDERS = ("engine", "alerts", "connectors")
SKIP = {".venv", ".git", "node_modules", "build"}


def _python_files() -> list[Path]:
    files = []
    for path in REPO.rglob("*.py"):
        rel = path.relative_to(REPO).parts
        if SKIP & set(rel) or (rel[0] == "runbookd" and rel[1] in FOLDERS):
            continue
        files.append(path)
    return files


def _top_level_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [
            f"{path.relative_to(REPO)}:{node.lineno}: {n}"
            for n in names
            if n.split(".")[0] in FOLDERS
        ]
    return found


def test_nothing_imports_the_folders_by_their_top_level_names() -> None:
    files = _python_files()
    assert len(files) > 300  # the repository was found
    assert [line for path in files for line in _top_level_imports(path)] == []


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_folder_is_the_runbookd_subpackage(folder: str) -> None:
    link = REPO / "runbookd" / folder
    assert link.is_symlink() and link.resolve() == REPO / folder
    module = importlib.import_module(f"runbookd.{folder}")
    assert Path(module.__file__ or "").resolve() == REPO / folder / "__init__.py"
