"""The bundled library covers the whole emergency plan, and every runbook is proven both ways.

Every section from 2.1 to 11.3 is a failure mode of the plan (/work/shared/seed/OUTLINE.md) and
needs a runbook whose ``section`` names it. Every runbook needs a scenario in tests/scenarios/
in which it fires and one near miss in which it must not (``no_incident`` for it). The failure
messages list exactly what is missing, so the test doubles as the library's to-do list.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from runbookd.toolchain.library import load_library
from runbookd.toolchain.scenario import load_scenario
from runbookd.toolchain.scenario_model import Scenario

ROOT = Path(__file__).parents[3]
RUNBOOKS = ROOT / "runbooks"
SCENARIOS = ROOT / "tests" / "scenarios"

PLAN_SECTIONS = [
    "2.1",
    "2.2",
    "2.3",
    "3.1",
    "3.2",
    "3.3",
    "4.1",
    "4.2",
    "4.3",
    "5.1",
    "5.2",
    "5.3",
    "6.1",
    "6.2",
    "6.3",
    "7.1",
    "7.2",
    "7.3",
    "8.1",
    "8.2",
    "8.3",
    "9.1",
    "9.2",
    "9.3",
    "10.1",
    "10.2",
    "10.3",
    "11.1",
    "11.2",
    "11.3",
]

# Expectations that can only pass if the runbook opened an incident.
_FIRING_KINDS = ("incident", "resolved", "postmortem")


def _library() -> dict[Path, tuple[str, str]]:
    """Runbook file (resolved) -> (id, section), for every valid runbook of the library."""
    library = load_library([RUNBOOKS], load_rules=False)
    assert library.ok, "the bundled runbooks have problems:\n" + "\n".join(
        str(d) for d in library.diagnostics
    )
    return {
        Path(item.file).resolve(): (item.runbook.id, item.runbook.section)
        for item in library.loaded
    }


def _scenarios() -> list[tuple[Path, Scenario]]:
    out: list[tuple[Path, Scenario]] = []
    problems: list[str] = []
    for path in sorted(p for p in SCENARIOS.rglob("*") if p.suffix in (".yaml", ".yml")):
        scenario, diagnostics = load_scenario(path)
        if scenario is None:
            problems.extend(str(d) for d in diagnostics)
        else:
            out.append((path, scenario))
    assert not problems, "scenario files that do not load:\n" + "\n".join(problems)
    return out


def _loaded_ids(path: Path, scenario: Scenario, files: dict[Path, tuple[str, str]]) -> set[str]:
    """The runbook ids a scenario runs: its `runbooks:` entries are files or folders."""
    ids: set[str] = set()
    for entry in scenario.runbooks:
        target = (path.parent / entry).resolve()
        for file, (rb_id, _) in files.items():
            if file == target or target in file.parents:
                ids.add(rb_id)
    return ids


def _classify(
    files: dict[Path, tuple[str, str]],
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Runbook id -> scenario files where it fires, and where it is a near miss."""
    firing: dict[str, list[str]] = defaultdict(list)
    near_miss: dict[str, list[str]] = defaultdict(list)
    for path, scenario in _scenarios():
        loaded = _loaded_ids(path, scenario, files)
        quiet = {e.no_incident.runbook for e in scenario.expect if e.no_incident is not None}
        fired: set[str] = set()
        for e in scenario.expect:
            if e.kind in _FIRING_KINDS:
                fired.add(getattr(e, e.kind).runbook)
            elif e.kind in ("step", "notified"):
                named = getattr(e, e.kind).runbook
                # Without a runbook the expectation is about the only runbook loaded, if one.
                if named is not None:
                    fired.add(named)
                elif len(loaded) == 1:
                    fired |= loaded
        for rb_id in loaded:
            if rb_id in quiet:
                near_miss[rb_id].append(path.name)
            elif rb_id in fired:
                firing[rb_id].append(path.name)
    return firing, near_miss


def test_every_plan_section_has_a_runbook() -> None:
    by_section: dict[str, list[str]] = defaultdict(list)
    for rb_id, section in _library().values():
        by_section[section].append(rb_id)
    missing = [s for s in PLAN_SECTIONS if s not in by_section]
    assert not missing, (
        f"{len(missing)} plan sections have no runbook (no `section:` names them): "
        + ", ".join(missing)
    )


def test_every_runbook_fires_in_a_scenario_and_stays_quiet_in_a_near_miss() -> None:
    files = _library()
    firing, near_miss = _classify(files)
    gaps = []
    for file, (rb_id, section) in sorted(files.items(), key=lambda kv: (kv[1][1], kv[1][0])):
        wanted = []
        if not firing.get(rb_id):
            wanted.append("a firing scenario (an incident/resolved/postmortem expectation)")
        if not near_miss.get(rb_id):
            wanted.append(f"a near-miss scenario (expect: no_incident: {{runbook: {rb_id}}})")
        if wanted:
            gaps.append(
                f"{rb_id} (section {section}, {file.relative_to(ROOT)}) needs "
                + " and ".join(wanted)
            )
    assert not gaps, f"{len(gaps)} runbooks lack scenarios:\n" + "\n".join(gaps)
