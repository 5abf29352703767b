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


def _split_rule(spec: str) -> tuple[Path, str] | None:
    """``FILE:ALERTNAME``; alert names may hold colons, so the file is the first prefix that exists."""
    for i, char in enumerate(spec):
        if char == ":" and Path(spec[:i]).is_file():
            return Path(spec[:i]), spec[i + 1 :]
    return None


def _cmd_scaffold(args: argparse.Namespace) -> int:
    from runbookd.engine.lang.diagnostics import did_you_mean
    from runbookd.toolchain.rules_files import load_rules
    from runbookd.toolchain.scaffold import scaffold

    parts = _split_rule(args.rule)
    if parts is None:
        print(
            f"runbookd scaffold: --rule {args.rule!r}: expected FILE:ALERTNAME with an existing FILE",
            file=sys.stderr,
        )
        return 1
    path, alert = parts
    rules = load_rules([path])
    for diagnostic in rules.diagnostics:
        print(diagnostic, file=sys.stderr)
    named = rules.named(alert)
    if not named:
        hint = did_you_mean(alert, [r.alert for r in rules.rules])
        print(f"runbookd scaffold: {path}: no alerting rule named {alert!r}{hint}", file=sys.stderr)
        return 1
    result = scaffold(
        named, section=args.section, file=str(path), neighbours=[r.alert for r in rules.rules]
    )
    out = Path(args.out)
    files = {
        out / "runbooks" / f"{result.runbook_id}.yaml": result.runbook,
        out / "tests" / "scenarios" / f"{result.runbook_id}-fires.yaml": result.fires,
        out / "tests" / "scenarios" / f"{result.runbook_id}-near-miss.yaml": result.near_miss,
    }
    existing = [str(p) for p in files if p.exists()]
    if existing and not args.force:
        print(
            f"runbookd scaffold: would overwrite {', '.join(existing)} (--force to do it)",
            file=sys.stderr,
        )
        return 1
    for target, text in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    runbook, *scenarios = files
    print(
        f"next: edit the DECIDE lines, then runbookd check {runbook} && runbookd test {' '.join(map(str, scenarios))}"
    )
    return 0


def add_scaffold_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sc = sub.add_parser(
        "scaffold", help="write a runbook and its two scenarios from a Prometheus alerting rule"
    )
    sc.add_argument(
        "--rule", required=True, metavar="FILE:ALERTNAME", help="the rule file and the alert's name"
    )
    sc.add_argument(
        "--section", default="0", help='plan section of the runbook, e.g. "10.1" (default: 0)'
    )
    sc.add_argument(
        "--out",
        default=".",
        metavar="DIR",
        help="writes DIR/runbooks/ and DIR/tests/scenarios/ (default: .)",
    )
    sc.add_argument("--force", action="store_true", help="overwrite files that exist")
    sc.set_defaults(func=_cmd_scaffold)
