"""GitHub Actions annotations for ``runbookd check`` and ``runbookd test`` (``--format github``).

Each finding becomes a workflow command, ``::error file=PATH,line=L,col=C,title=T::message``,
which GitHub shows on the line of the pull request's diff. Paths are made relative to the working
directory (the checkout, in a workflow), since GitHub matches them against the repository.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from runbookd.engine.lang.diagnostics import Diagnostic
from runbookd.engine.lang.source import Pos, SourceError, load_yaml
from runbookd.toolchain.scenario import ScenarioResult

# A diagnostic the scenario runner kept as its text (str(Diagnostic)).
_DIAGNOSTIC = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$", re.S)


def _data(text: str) -> str:
    """A message: the runner would cut it at a newline and decode % escapes."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """A property value, where ``:`` and ``,`` would end it."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _relative(file: str) -> str:
    # normpath, not resolve: "scenarios/../runbooks/x.yaml" (a scenario's runbook) must become
    # the path in the repository, and a symlink must keep the name the repository has.
    path = Path(os.path.normpath(file))
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def annotation(
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
    level: str = "error",
) -> str:
    props = []
    if file is not None:
        props.append(f"file={_property(_relative(file))}")
        if line is not None:
            props.append(f"line={line}")
            if col is not None:
                props.append(f"col={col}")
    if title:
        props.append(f"title={_property(title)}")
    return (
        f"::{level} {','.join(props)}::{_data(message)}"
        if props
        else f"::{level}::{_data(message)}"
    )


def diagnostic(d: Diagnostic, title: str = "runbookd check") -> str:
    return annotation(d.message, file=d.file, line=d.line, col=d.col, title=title)


def expectation_positions(path: Path) -> list[Pos]:
    """Where each entry of the scenario's ``expect:`` list starts, in order."""
    try:
        _, smap = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, SourceError):
        return []
    out: list[Pos] = []
    while ("expect", len(out)) in smap.values:
        out.append(smap.values[("expect", len(out))])
    return out


def scenario_annotations(results: Sequence[ScenarioResult]) -> Iterator[str]:
    """An error for each failed expectation (on its line of the scenario) and each scenario
    that could not run (on the line its problem names, or on the file)."""
    for result in results:
        title = f"runbookd test: {result.title}" if result.title else "runbookd test"
        for error in result.errors:
            found = _DIAGNOSTIC.match(error)
            if found:
                yield annotation(
                    found["message"],
                    file=found["file"],
                    line=int(found["line"]),
                    col=int(found["col"]),
                    title=title,
                )
            else:
                yield annotation(error, file=result.file, title=title)
        # One check per expectation, in the file's order (the runner checks them in turn).
        positions = expectation_positions(Path(result.file))
        for index, check in enumerate(result.checks):
            if check.passed:
                continue
            pos = positions[index] if index < len(positions) else Pos(1, 1)
            message = check.name + (f"\n{check.detail}" if check.detail else "")
            yield annotation(message, file=result.file, line=pos.line, col=pos.col, title=title)
