"""``runbookd coverage|scaffold``: adopting runbookd on the Prometheus rules a team already has."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_RUNBOOKS = Path("runbooks")


def _cmd_coverage(args: argparse.Namespace) -> int:
    from runbookd.toolchain.coverage import coverage
    from runbookd.toolchain.coverage_report import write_json, write_text
    from runbookd.toolchain.library import load_library
    from runbookd.toolchain.rules_files import load_rules

    rules = load_rules([Path(p) for p in args.rules])
    # The compiled-rules child process check is `runbookd check`'s job; coverage reads models.
    library = load_library([Path(p) for p in args.runbooks or [DEFAULT_RUNBOOKS]], load_rules=False)
    for diagnostic in [*rules.diagnostics, *library.diagnostics]:
        print(diagnostic, file=sys.stderr)
    if not rules.rules and not rules.diagnostics:
        print(f"no alerting rules under {', '.join(args.rules)}", file=sys.stderr)
        return 1
    report = coverage(
        rules.rules,
        library.loaded,
        external_labels=frozenset(args.external_label),
        recording=rules.recording,
    )
    (write_json if args.json else write_text)(report, sys.stdout)
    failed = bool(rules.diagnostics or library.diagnostics)
    if "uncovered" in args.fail_on and report.uncovered:
        failed = True
    if "typos" in args.fail_on and report.typos:
        failed = True
    return 1 if failed else 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cov = sub.add_parser(
        "coverage",
        help="which runbooks handle which Prometheus alerting rules (and which none does)",
    )
    cov.add_argument(
        "--rules",
        nargs="+",
        required=True,
        metavar="PATH",
        help="Prometheus rule files or folders (plain rule files or PrometheusRule manifests)",
    )
    cov.add_argument(
        "--runbooks",
        action="append",
        metavar="DIR",
        help="runbook folder or file (repeatable; default: runbooks/)",
    )
    cov.add_argument(
        "--fail-on",
        action="append",
        default=[],
        choices=["uncovered", "typos"],
        help="exit 1 if a rule has no runbook (uncovered) or a trigger names no rule (typos)",
    )
    cov.add_argument(
        "--external-label",
        action="append",
        default=[],
        metavar="NAME",
        help="a label Prometheus adds to every alert (external_labels, alert relabelling)",
    )
    cov.add_argument("--json", action="store_true", help="the report as one JSON document")
    cov.set_defaults(func=_cmd_coverage)
