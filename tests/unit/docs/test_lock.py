"""requirements/lock.txt, which `make` installs from (docs/operations.md, "Installing from the
lock"), covers everything pyproject.toml names, at a version its range allows, with hashes, and
everything those bring in turn: an install from it never resolves a release of its own."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

REPO = Path(__file__).resolve().parents[3]
LOCK = REPO / "requirements" / "lock.txt"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
EXTRAS = ("dev", "testing", "postgres")
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)")


def read_lock(text: str) -> dict[NormalizedName, tuple[str, int]]:
    """Each pinned distribution with its version and how many hashes follow it."""
    pins: dict[NormalizedName, tuple[str, int]] = {}
    current: NormalizedName | None = None
    for line in text.splitlines():
        if match := _PIN.match(line):
            current = canonicalize_name(match[1])
            pins[current] = (match[2], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return pins


def applies(requirement: Requirement, extra: str = "") -> bool:
    if requirement.marker is None:
        return True
    env = dict(default_environment())
    env["extra"] = extra
    return requirement.marker.evaluate(env)


def uncovered(
    requirements: list[Requirement], pins: dict[NormalizedName, tuple[str, int]]
) -> list[str]:
    return [
        str(r)
        for r in requirements
        if canonicalize_name(r.name) not in pins
        or not r.specifier.contains(pins[canonicalize_name(r.name)][0], prereleases=True)
    ]


def named_by_pyproject() -> list[Requirement]:
    project = PYPROJECT["project"]
    names = list(project["dependencies"]) + list(PYPROJECT["build-system"]["requires"])
    for extra in EXTRAS:
        names += project["optional-dependencies"][extra]
    return [r for r in map(Requirement, names) if applies(r)]


PINS = read_lock(LOCK.read_text(encoding="utf-8"))


def test_the_lock_pins_every_dependency_pyproject_names_within_its_range() -> None:
    assert set(PYPROJECT["project"]["optional-dependencies"]) == set(EXTRAS), "lock every extra"
    assert uncovered(named_by_pyproject(), PINS) == []


def test_every_pin_carries_hashes() -> None:
    assert [name for name, (_, hashes) in PINS.items() if hashes == 0] == []


def test_a_dependency_missing_from_the_lock_or_pinned_outside_its_range_is_named() -> None:
    lock = "httpx==0.29.0 \\\n    --hash=sha256:00\norjson==3.9.0 \\\n    --hash=sha256:11\n"
    wanted = [Requirement("httpx>=0.27"), Requirement("orjson>=3.10"), Requirement("sniffio")]
    assert uncovered(wanted, read_lock(lock)) == ["orjson>=3.10", "sniffio"]


def test_the_environment_runs_the_lock_and_the_lock_is_closed() -> None:
    """What `make` installed is the lock, and every requirement of every locked distribution (as
    its installed metadata says) is locked too, so `pip install --require-hashes` needs nothing
    else. Walks from pyproject's requirements through each distribution's own."""
    pending = [(r, "") for r in named_by_pyproject()]
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    missing: list[str] = []
    while pending:
        requirement, extra = pending.pop()
        if not applies(requirement, extra):
            continue
        name = canonicalize_name(requirement.name)
        if uncovered([requirement], PINS):
            missing.append(str(requirement))
            continue
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        assert metadata.version(name) == PINS[name][0], f"{name} is not the locked version"
        for line in metadata.requires(name) or []:
            pending += [(Requirement(line), e) for e in ("", *requirement.extras)]
    assert missing == []


RUNTIME_PINS = read_lock((REPO / "requirements" / "runtime.txt").read_text(encoding="utf-8"))


def test_the_runtime_lock_is_the_service_and_its_driver_at_the_locks_versions() -> None:
    project = PYPROJECT["project"]
    wanted = [
        *project["dependencies"],
        *project["optional-dependencies"]["postgres"],
        *PYPROJECT["build-system"]["requires"],
    ]
    assert uncovered([r for r in map(Requirement, wanted) if applies(r)], RUNTIME_PINS) == []
    assert {n: v for n, (v, _) in RUNTIME_PINS.items()} == {n: PINS[n][0] for n in RUNTIME_PINS}
    assert "pytest" not in RUNTIME_PINS and "ruff" not in RUNTIME_PINS
    assert [name for name, (_, hashes) in RUNTIME_PINS.items() if hashes == 0] == []


def test_make_installs_the_lock_and_runbookd_without_resolving() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(STAMP): pyproject.toml $(LOCK)\n", 1)[1].split("\n\n", 1)[0]
    assert [line.strip() for line in recipe.splitlines()] == [
        "$(PYTHON) -m venv --clear $(VENV)",
        "$(BIN)/pip install -q --require-hashes -r $(LOCK)",
        "$(BIN)/pip install -q --no-deps --no-build-isolation -e .",
        "touch $(STAMP)",
    ]
    assert "LOCK := requirements/lock.txt" in makefile


def test_the_locks_are_resolved_with_python_3_11() -> None:
    for lock in (LOCK, REPO / "requirements" / "runtime.txt"):
        assert "autogenerated by pip-compile with Python 3.11\n" in lock.read_text()
