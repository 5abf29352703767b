"""``runbookd drill RUNBOOK_ID ...`` and ``runbookd drill --all``: drill runbooks and score them.

Without ``--config`` the results are only printed; with it the runbooks come from the
configuration (unless ``--runbooks`` is given) and every result is also stored in its database,
where the service's /reports page finds it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from runbookd.drills.run import DrillResult

DEFAULT_RUNBOOKS = Path("runbooks")


def print_results(results: list[DrillResult], out: TextIO, *, verbose: bool = False) -> None:
    for r in results:
        passed = sum(c.passed for c in r.checks)
        status = "PASS" if r.passed else "FAIL"
        print(
            f"{status} {r.runbook_id} v{r.runbook_version} (section {r.section or '?'}) "
            f"score {r.score:.2f}: {passed}/{len(r.checks)} checks, {len(r.drills)} drills",
            file=out,
        )
        for check in r.checks:
            if verbose or not check.passed:
                mark = "ok  " if check.passed else "FAIL"
                print(f"  {mark} {check.name}: {check.detail}", file=out)
    failed = sum(not r.passed for r in results)
    print(
        f"{len(results)} runbooks drilled: {len(results) - failed} passed, {failed} failed",
        file=out,
    )


def cmd_drill(args: argparse.Namespace) -> int:
    from runbookd.toolchain.library import load_library

    if bool(args.ids) == bool(args.all):
        print("runbookd drill: name runbook ids, or use --all", file=sys.stderr)
        return 2
    settings = None
    if args.config:
        from runbookd.config.settings import SettingsError, load_settings

        try:
            settings = load_settings(Path(args.config))
        except SettingsError as exc:
            print(f"runbookd drill: bad configuration:\n{exc}", file=sys.stderr)
            return 1
    if args.runbooks:
        paths = [Path(p) for p in args.runbooks]
    elif settings is not None:
        paths = list(settings.runbooks)
    else:
        paths = [DEFAULT_RUNBOOKS]
    library = load_library(paths, load_rules=False)
    if not library.ok:
        for diagnostic in library.diagnostics:
            print(diagnostic, file=sys.stderr)
        return 1
    compiled = {c.runbook.id: c for c in library.compiled()}
    unknown = [i for i in args.ids if i not in compiled]
    if unknown:
        known = ", ".join(sorted(compiled))
        print(
            f"runbookd drill: no runbook {', '.join(map(repr, unknown))}; known: {known}",
            file=sys.stderr,
        )
        return 1
    from runbookd.drills.run import Driller

    chosen = list(compiled.values()) if args.all else [compiled[i] for i in args.ids]
    results = [Driller(c).run() for c in chosen]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print_results(results, sys.stdout, verbose=args.verbose)
    if settings is not None:
        stored = _store(results, settings.database_url_resolved())
        if stored is not None:
            print(f"runbookd drill: {stored}", file=sys.stderr)
            return 1
    return 0 if all(r.passed for r in results) else 1


def _store(results: list[DrillResult], url: str) -> str | None:
    """Write the results; an error message (URL password hidden) when the database refuses."""
    from runbookd.config.sections import redact_url
    from runbookd.drills.store import save_drill_results
    from runbookd.store import db

    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        save_drill_results(engine, results)
    except Exception as exc:  # any driver error: report it without a traceback or the password
        return f"cannot store the results in {redact_url(url)}: {type(exc).__name__}"
    finally:
        engine.dispose()
    return None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drill = sub.add_parser(
        "drill",
        help="run runbooks end to end on synthetic signals (dry run) and score them",
    )
    drill.add_argument("ids", nargs="*", metavar="RUNBOOK_ID", help="runbooks to drill")
    drill.add_argument("--all", action="store_true", help="drill every runbook")
    drill.add_argument(
        "--runbooks",
        action="append",
        metavar="PATH",
        help="runbook file or folder (repeatable; default: the configuration's, else runbooks/)",
    )
    drill.add_argument(
        "--config", help="configuration file: its runbooks, and store the results in its database"
    )
    drill.add_argument("--json", action="store_true", help="JSON instead of text")
    drill.add_argument("-v", "--verbose", action="store_true", help="list passing checks too")
    drill.set_defaults(func=cmd_drill)
