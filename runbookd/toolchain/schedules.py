"""Schedule files next to the runbooks: load them, and check the runbooks' ``schedule:`` levels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runbookd.engine.lang.diagnostics import Diagnostic, did_you_mean
from runbookd.oncall.loader import ScheduleLibrary, load_paths
from runbookd.toolchain.library import Library


def load_schedules(paths: Sequence[Path], *, skip_missing: bool = False) -> ScheduleLibrary:
    """Every schedule under ``paths``; ``skip_missing`` for defaults (no folder = no schedules)."""
    wanted = [p for p in paths if p.exists()] if skip_missing else list(paths)
    return load_paths(wanted)


def check_references(library: Library, schedules: ScheduleLibrary) -> list[Diagnostic]:
    """A level naming a schedule that does not exist, at its ``schedule:`` value."""
    out: list[Diagnostic] = []
    for item in library.loaded:
        escalation = item.runbook.escalation
        for i, level in enumerate(escalation.levels if escalation else []):
            if level.schedule is None or level.schedule in schedules.schedules:
                continue
            known = ", ".join(sorted(schedules.schedules)) or "none are loaded"
            hint = did_you_mean(level.schedule, schedules.schedules)
            message = (
                f"level {level.id!r}: no schedule {level.schedule!r}{hint}; schedules: {known}"
            )
            out.append(item.at(("escalation", "levels", i, "schedule"), message))
    return out
