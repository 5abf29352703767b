"""runbookd declares what it imports: every third-party module that its code imports comes from a
distribution named in pyproject.toml's [project] dependencies, not from one that happens to be
installed because something else brought it (sqlalchemy through sqlmodel, starlette through
fastapi). An import the dependencies do not name breaks the day the dependency that brought it
changes its own. And what only tests or PostgreSQL need stays out of a plain install."""

from __future__ import annotations

import ast
import os
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[3]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def declared(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def package_files() -> list[Path]:
    """Every module of the installed package, through the symlinks that map engine/, alerts/ and
    connectors/ into it (os.walk follows them; Path.rglob does not on Python 3.11)."""
    return [
        Path(folder) / name
        for folder, _, names in os.walk(REPO / "runbookd", followlinks=True)
        for name in names
        if name.endswith(".py")
    ]


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one file that are neither stdlib nor ours,
    lazy imports inside functions and TYPE_CHECKING blocks included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "runbookd"}


def undeclared(files: list[Path], dependencies: set[str]) -> dict[str, list[str]]:
    """Each imported module whose distribution is not in ``dependencies``, with where."""
    owners = packages_distributions()
    missing: dict[str, list[str]] = {}
    for path in files:
        for module in third_party_imports(path):
            dists = {canonicalize_name(d) for d in owners.get(module, [module])}
            if not dists & dependencies:
                missing.setdefault(module, []).append(str(path))
    return missing


def test_every_third_party_import_of_the_package_is_a_declared_dependency() -> None:
    files = package_files()
    # The walk reaches the mapped folders: the adapter is the one module that imports durable.
    assert REPO / "runbookd" / "engine" / "rules.py" in files
    assert undeclared(files, declared(PROJECT["dependencies"])) == {}


def test_the_check_names_an_import_that_only_arrives_through_another_dependency(
    tmp_path: Path,
) -> None:
    module = tmp_path / "page.py"
    module.write_text("from markupsafe import Markup\nimport yaml\n", encoding="utf-8")
    # jinja2 brings markupsafe, but declaring jinja2 does not declare markupsafe.
    assert undeclared([module], {"jinja2", "pyyaml"}) == {"markupsafe": [str(module)]}


def test_pytest_and_the_postgresql_driver_are_extras_not_runtime_dependencies() -> None:
    runtime = declared(PROJECT["dependencies"])
    extras = {name: declared(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}
    assert "pytest" not in runtime
    assert "pytest" in extras["testing"]
    assert "psycopg" not in runtime
    assert "psycopg" in extras["postgres"]
