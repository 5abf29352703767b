"""Load, check and compile runbooks from files and folders: the front half of every command."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbookd.connectors.base import ConnectorSpec
from runbookd.connectors.registry import load_specs
from runbookd.engine.checks import check_all
from runbookd.engine.compiler import CompiledRunbook, compile_runbook
from runbookd.engine.lang.diagnostics import Diagnostic
from runbookd.engine.lang.loader import LoadedRunbook, find_runbook_files, load_file
from runbookd.toolchain.fallback import apply_notify


@dataclass
class Library:
    loaded: list[LoadedRunbook] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def compiled(self) -> list[CompiledRunbook]:
        return [compile_runbook(item.runbook) for item in self.loaded]


def load_library(
    paths: Sequence[Path], *, specs: dict[str, ConnectorSpec] | None = None, load_rules: bool = True
) -> Library:
    """Every runbook under ``paths`` with every problem found in any of them."""
    files, diagnostics = find_runbook_files(list(paths))
    library = Library(files=files, diagnostics=diagnostics)
    for path in files:
        loaded, problems = load_file(path)
        library.diagnostics.extend(problems)
        if loaded is not None:
            library.loaded.append(loaded)
    library.diagnostics.extend(
        check_all(
            library.loaded, specs if specs is not None else load_specs(), load_rules=load_rules
        )
    )
    library.diagnostics.sort()
    bad = {d.file for d in library.diagnostics}
    library.loaded = [item for item in library.loaded if item.file not in bad]
    return library


def select_fallback(
    library: Library,
    name: str | None,
    source: str = "fallback_runbook",
    *,
    notify: Mapping[str, Any] | None = None,
    specs: Mapping[str, ConnectorSpec] | None = None,
) -> None:
    """Keep only the fallback runbook the configuration names (``fallback_runbook``), its levels
    sending through ``notify`` (``fallback_notify``) when that is set.

    A runbook with ``detection.fallback: true`` takes every event no other runbook took, so one
    that is merely present in a folder must not do so: the service drops every fallback runbook
    but the named one. A name that is no loaded runbook, or one that is not a fallback, is an
    error in the runbooks' terms (``runbookd check-config`` and ``serve`` refuse it); ``source``
    is what the diagnostic names for the setting (the configuration file, when known).
    """
    fallbacks = [item for item in library.loaded if item.runbook.detection.fallback]
    if name is not None:
        named = [item for item in library.loaded if item.runbook.id == name]
        if not named:
            known = sorted(item.runbook.id for item in fallbacks)
            library.diagnostics.append(
                Diagnostic(
                    source,
                    1,
                    1,
                    f"fallback_runbook: no runbook {name!r} is loaded (fallback runbooks found: "
                    f"{', '.join(known) or 'none'}); set it to null to run without one",
                )
            )
        elif not named[0].runbook.detection.fallback:
            library.diagnostics.append(
                Diagnostic(
                    str(named[0].file),
                    1,
                    1,
                    f"fallback_runbook: runbook {name!r} is not a fallback runbook "
                    "(it needs detection.fallback: true)",
                )
            )
    library.loaded = [
        item
        for item in library.loaded
        if not item.runbook.detection.fallback or item.runbook.id == name
    ]
    library.loaded, problems = apply_notify(
        library.loaded, notify, specs if specs is not None else load_specs(), source
    )
    library.diagnostics.extend(problems)
