"""Rewrite imports of the top-level folders engine/, alerts/ and connectors/ to runbookd.*.

The three folders stay where the project's fixed layout puts them; the installed distribution
sees them as runbookd.engine, runbookd.alerts and runbookd.connectors (symlinks inside runbookd/,
docs/decisions.md "One namespace"). Run this on a branch written before that change:
`python tools/namespace_imports.py [PATH ...]`. It is idempotent: runbookd.engine is not matched.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_ROOTS = "engine|alerts|connectors"
_FROM = re.compile(rf"^(\s*)from ({_ROOTS})(\.|\s+import\b)", re.MULTILINE)
_IMPORT = re.compile(rf"^(\s*)import ({_ROOTS})(\.[\w.]+)? as ", re.MULTILINE)
_SKIP = {".venv", ".git", "node_modules"}
# runbookd/engine etc. are symlinks to the top-level folders: visit each file once, by its real path
_LINKS = {("runbookd", "engine"), ("runbookd", "alerts"), ("runbookd", "connectors")}


def rewrite(text: str) -> str:
    text = _FROM.sub(r"\1from runbookd.\2\3", text)
    return _IMPORT.sub(r"\1import runbookd.\2\3 as ", text)


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_file():
            out.append(path)
            continue
        for file in path.rglob("*.py"):
            parts = file.relative_to(path).parts
            if not set(parts[:-1]) & _SKIP and tuple(parts[:2]) not in _LINKS:
                out.append(file)
    return out


def main(argv: list[str]) -> int:
    changed = 0
    for file in _files([Path(a) for a in argv] or [Path(".")]):
        old = file.read_text(encoding="utf-8")
        new = rewrite(old)
        if new != old:
            file.write_text(new, encoding="utf-8")
            changed += 1
    print(f"{changed} files rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
