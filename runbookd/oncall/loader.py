"""Read schedule files into resolvers; every problem is a ``PATH:LINE:COL`` diagnostic.

The YAML-with-positions reader and the pydantic-error mapping are the runbook loader's
(``engine.lang``), so a schedule error reads exactly like a runbook error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath

from pydantic import ValidationError

from runbookd.engine.lang.diagnostics import Diagnostic, did_you_mean
from runbookd.engine.lang.loader import find_runbook_files, validation_diagnostics
from runbookd.engine.lang.source import Path, SourceError, SourceMap, load_yaml
from runbookd.oncall.model import Person, Schedule, ScheduleFile
from runbookd.oncall.resolve import Resolver
from runbookd.oncall.wallclock import aware


@dataclass
class _Parsed:
    file: str
    model: ScheduleFile
    source: SourceMap

    def at(self, path: Path, message: str, *, key: bool = False) -> Diagnostic:
        pos = self.source.key(path) if key else self.source.value(path)
        return Diagnostic(self.file, pos.line, pos.col, message)


@dataclass
class ScheduleLibrary:
    """Every schedule of a folder, its people, and what was wrong with the files."""

    files: list[str] = field(default_factory=list)
    people: dict[str, Person] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def resolver(self, schedule_id: str) -> Resolver:
        """The resolver of one schedule; KeyError (naming close ids) when there is none."""
        if schedule_id not in self.schedules:
            hint = did_you_mean(schedule_id, self.schedules)
            raise KeyError(f"no schedule {schedule_id!r}{hint}")
        return Resolver(self.schedules[schedule_id], self.people)


def parse_text(text: str, file: str) -> tuple[_Parsed | None, list[Diagnostic]]:
    try:
        data, smap = load_yaml(text)
    except SourceError as exc:
        return None, [Diagnostic(file, exc.pos.line, exc.pos.col, exc.message)]
    if not isinstance(data, dict):
        what = "an empty file" if data is None else f"a {type(data).__name__}"
        return None, [
            Diagnostic(
                file, 1, 1, f"a schedule file is a mapping (people:, schedules:), this is {what}"
            )
        ]
    try:
        model = ScheduleFile.model_validate(data)
    except ValidationError as exc:
        return None, validation_diagnostics(exc, data, smap, file, ScheduleFile)
    return _Parsed(file, model, smap), []


def load_texts(texts: list[tuple[str, str]]) -> ScheduleLibrary:
    """Schedules from (file name, text) pairs, checked together: people are shared by all."""
    library = ScheduleLibrary(files=[name for name, _ in texts])
    parsed: list[_Parsed] = []
    for name, text in texts:
        item, problems = parse_text(text, name)
        library.diagnostics.extend(problems)
        if item is not None:
            parsed.append(item)
    people_at: dict[str, _Parsed] = {}
    for item in parsed:
        for pid, person in item.model.people.items():
            if pid in people_at:
                first = people_at[pid]
                library.diagnostics.append(
                    item.at(
                        ("people", pid),
                        f"person {pid!r} is already defined in {first.file}",
                        key=True,
                    )
                )
                continue
            people_at[pid] = item
            library.people[pid] = person
    schedule_at: dict[str, _Parsed] = {}
    for item in parsed:
        for i, schedule in enumerate(item.model.schedules):
            problems = _check_schedule(item, i, schedule, library.people)
            if schedule.id in schedule_at:
                where = schedule_at[schedule.id].file
                problems.append(
                    item.at(
                        ("schedules", i, "id"),
                        f"schedule {schedule.id!r} is already defined in {where}",
                    )
                )
            library.diagnostics.extend(problems)
            if not problems:
                schedule_at[schedule.id] = item
                library.schedules[schedule.id] = schedule
    library.diagnostics.sort()
    return library


def _check_schedule(
    item: _Parsed, i: int, schedule: Schedule, people: dict[str, Person]
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    base: Path = ("schedules", i)

    def unknown(pid: str, path: Path) -> None:
        if pid not in people:
            hint = did_you_mean(pid, people)
            out.append(item.at(path, f"schedule {schedule.id!r}: unknown person {pid!r}{hint}"))

    seen: set[str] = set()
    for j, layer in enumerate(schedule.layers):
        if layer.id in seen:
            out.append(item.at((*base, "layers", j, "id"), f"layer {layer.id!r} appears twice"))
        seen.add(layer.id)
        for k, pid in enumerate(layer.members):
            unknown(pid, (*base, "layers", j, "members", k))
    tz = schedule.zone
    for j, override in enumerate(schedule.overrides):
        unknown(override.person, (*base, "overrides", j, "person"))
        if aware(override.end, tz) <= aware(override.start, tz):
            out.append(item.at((*base, "overrides", j, "end"), "end: must be after start"))
    return out


def find_schedule_files(paths: list[FsPath]) -> tuple[list[FsPath], list[Diagnostic]]:
    """The same expansion as for runbooks: folders into their sorted .yaml/.yml files."""
    return find_runbook_files(paths)


def load_paths(paths: list[FsPath]) -> ScheduleLibrary:
    files, missing = find_schedule_files(paths)
    texts: list[tuple[str, str]] = []
    problems = list(missing)
    for path in files:
        try:
            texts.append((str(path), path.read_text(encoding="utf-8")))
        except UnicodeDecodeError as exc:
            problems.append(
                Diagnostic(str(path), 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            )
        except OSError as exc:
            problems.append(Diagnostic(str(path), 1, 1, f"cannot read: {exc.strerror}"))
    library = load_texts(texts)
    library.diagnostics = sorted([*problems, *library.diagnostics])
    library.files = [str(p) for p in files]
    return library
