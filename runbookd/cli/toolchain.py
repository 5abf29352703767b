"""``runbookd check|test|replay|schema``: the offline toolchain's verbs (no server, no network)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily below: the CLI starts without loading the toolchain
    from runbookd.toolchain.library import Library

DEFAULT_RUNBOOKS = Path("runbooks")
DEFAULT_SCHEDULES = Path("schedules")
DEFAULT_SCENARIOS = Path("tests/scenarios")


def _cmd_check(args: argparse.Namespace) -> int:  # one branch per output option
    from runbookd.toolchain.library import load_library
    from runbookd.toolchain.schedules import check_references, load_schedules

    paths = [Path(p) for p in args.paths] or [DEFAULT_RUNBOOKS]
    library = load_library(paths)
    # The default folder may be absent (no schedules); a folder named on the command line not.
    given = [Path(p) for p in args.schedules]
    schedules = load_schedules(given or [DEFAULT_SCHEDULES], skip_missing=not given)
    library.diagnostics = sorted(
        [*library.diagnostics, *schedules.diagnostics, *check_references(library, schedules)]
    )
    if args.format == "github":
        from runbookd.toolchain.annotations import diagnostic as annotate

        # Workflow commands are read from stdout.
        for diagnostic in library.diagnostics:
            print(annotate(diagnostic))
    else:
        for diagnostic in library.diagnostics:
            print(diagnostic, file=sys.stderr)
    for item in library.loaded:
        rb = item.runbook
        print(
            f"{item.file}: ok {rb.id} v{rb.version} section {rb.section} "
            f"({rb.classification.effective_severity.value}; {len(rb.detection.triggers)} triggers, "
            f"{len(rb.escalation.levels) if rb.escalation else 0} levels, {len(rb.handling.steps)} steps)"
        )
    for schedule in schedules.schedules.values():
        members = {m for layer in schedule.layers for m in layer.members}
        print(
            f"schedule {schedule.id}: ok ({schedule.time_zone}; {len(schedule.layers)} layers, "
            f"{len(members)} people)"
        )
    if not library.files and not library.diagnostics:
        print(f"no runbook files under {', '.join(map(str, paths))}", file=sys.stderr)
        return 1
    if args.rules and not _warn_keys(args, library):
        return 1
    return 0 if library.ok else 1


def _warn_keys(args: argparse.Namespace, library: Library) -> bool:
    """``--rules``: incident keys the rules' alerts may leave empty; False if no rule loaded."""
    from runbookd.toolchain.coverage import coverage
    from runbookd.toolchain.key_warnings import key_warnings
    from runbookd.toolchain.rules_files import load_rules

    rules = load_rules([Path(p) for p in args.rules])
    for diagnostic in rules.diagnostics:
        print(diagnostic, file=sys.stderr)
    if not rules.rules:
        print(f"no alerting rules under {', '.join(args.rules)}", file=sys.stderr)
        return False
    report = coverage(rules.rules, library.loaded, external_labels=frozenset(args.external_label))
    for warning in key_warnings(report, library.loaded):
        if args.format == "github":
            from runbookd.toolchain.annotations import diagnostic as annotate

            print(annotate(warning))
        else:
            print(warning, file=sys.stderr)
    return True


def _scenario_files(paths: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for raw in paths or [str(DEFAULT_SCENARIOS)]:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        else:
            out.append(path)
    return out


def _cmd_test(args: argparse.Namespace) -> int:
    from runbookd.toolchain.report import print_results, write_junit
    from runbookd.toolchain.scenario import run_scenario

    files = _scenario_files(args.files)
    if not files:
        print("no scenario files found", file=sys.stderr)
        return 1
    results = [run_scenario(path) for path in files]
    print_results(results, sys.stdout, verbose=args.verbose)
    if args.format == "github":
        from runbookd.toolchain.annotations import scenario_annotations

        for line in scenario_annotations(results):
            print(line)
    if args.junit:
        write_junit(results, Path(args.junit))
    return 0 if all(r.passed for r in results) else 1


def _cmd_replay(args: argparse.Namespace) -> int:
    from runbookd.toolchain.library import load_library
    from runbookd.toolchain.replay import ReplayError, replay

    library = load_library([Path(args.runbooks)], load_rules=False)
    if not library.ok:
        for diagnostic in library.diagnostics:
            print(diagnostic, file=sys.stderr)
        return 1
    try:
        replay(library.compiled(), Path(args.events), sys.stdout, as_json=args.json)
    except (ReplayError, OSError) as exc:
        print(f"runbookd replay: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from runbookd.engine.lang.model import Runbook

    schema = Runbook.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "runbookd runbook (language version 1)"
    print(json.dumps(schema, indent=2))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser("check", help="validate runbooks (PATH:LINE:COL errors on stderr)")
    check.add_argument("paths", nargs="*", help="runbook files or folders (default: runbooks/)")
    check.add_argument(
        "--format",
        choices=["text", "github"],
        default="text",
        help="text: PATH:LINE:COL lines on stderr; github: GitHub Actions annotations on stdout",
    )
    check.add_argument(
        "--schedules",
        action="append",
        default=[],
        metavar="PATH",
        help="on-call schedule files or folders (default: schedules/ when it exists)",
    )
    check.add_argument(
        "--rules",
        nargs="+",
        default=[],
        metavar="PATH",
        help="Prometheus rule files or folders: warn where a group_by label may be missing "
        "from the alerts that start a runbook (warnings keep the exit status)",
    )
    check.add_argument(
        "--external-label",
        action="append",
        default=[],
        metavar="NAME",
        help="with --rules: a label Prometheus adds to every alert (external_labels)",
    )
    check.set_defaults(func=_cmd_check)
    test = sub.add_parser("test", help="run scenario files on a virtual clock")
    test.add_argument(
        "files", nargs="*", help="scenario files or folders (default: tests/scenarios/)"
    )
    test.add_argument("--junit", metavar="FILE", help="also write JUnit XML")
    test.add_argument(
        "--format",
        choices=["text", "github"],
        default="text",
        help="github: also a GitHub Actions annotation per failure, on its scenario line",
    )
    test.add_argument("-v", "--verbose", action="store_true", help="list passing expectations too")
    test.set_defaults(func=_cmd_test)
    rep = sub.add_parser(
        "replay", help="run recorded events through runbooks and print the timeline"
    )
    rep.add_argument("--runbooks", default=str(DEFAULT_RUNBOOKS), help="runbook folder or file")
    rep.add_argument("events", help="JSON lines of recorded events")
    rep.add_argument("--json", action="store_true", help="JSON lines instead of text")
    rep.set_defaults(func=_cmd_replay)
    schema = sub.add_parser("schema", help="print the JSON Schema of the runbook language")
    schema.set_defaults(func=_cmd_schema)
