"""``PATH:LINE:COL`` for problems of the configuration file, for the logs of a reload: the loader's
messages name a key path (``config.yaml: server.port: ...``, as ``check-config`` prints them), and a
log line that also points at the line is what an editor or ``grep -n`` jumps to."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from runbookd.config.sources import Loc
from runbookd.engine.lang.source import SourceError, load_yaml

_PART = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def with_positions(config: Path, problems: Iterable[str]) -> list[str]:
    """Each problem of ``config`` as ``PATH:LINE:COL: key.path: message``: the line of the key
    it names (or of its nearest enclosing key); other problems unchanged."""
    problems = list(problems)
    prefix = f"{config}: "
    try:
        _, smap = load_yaml(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SourceError):
        return problems  # those problems already carry their position, or have none
    out = []
    for problem in problems:
        where = problem.removeprefix(prefix).partition(": ")[0]
        loc = key_path(where) if problem.startswith(prefix) else None
        if loc is None:
            out.append(problem)
            continue
        pos = smap.key(loc)
        out.append(f"{config}:{pos.line}:{pos.col}: {problem.removeprefix(prefix)}")
    return out


def key_path(dotted: str) -> Loc | None:
    """``polling[0].name`` -> ``('polling', 0, 'name')``; None for text that is no key path."""
    if not dotted or " " in dotted:
        return None
    loc: list[str | int] = []
    at = 0
    for match in _PART.finditer(dotted):
        if match.start() != at:
            return None
        index, name = match.groups()
        loc.append(int(index) if index is not None else name)
        at = match.end()
    return tuple(loc) if at == len(dotted) else None
