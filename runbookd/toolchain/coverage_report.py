"""The text and JSON forms of a coverage report (``runbookd coverage``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, TextIO

from runbookd.toolchain.coverage import Report, RuleCoverage


def _headline(item: RuleCoverage) -> str:
    rule = item.rule
    facts = [rule.severity or "no severity"]
    if rule.for_:
        facts.append(f"for {rule.for_}")
    return f"{rule.where}: {rule.alert} ({', '.join(facts)})"


def write_text(report: Report, out: TextIO) -> None:
    for item in report.rules:
        if not item.covered:
            print(f"{_headline(item)}: no runbook", file=out)
        else:
            print(_headline(item), file=out)
        for m in item.matches:
            line = f"  -> {m.runbook} / {m.trigger} ({m.role}): {m.verdict}"
            if m.depends_on:
                line += f" ({', '.join(m.depends_on)})"
            if m.inhibited_by:
                line += f"; inhibited by {', '.join(m.inhibited_by)}"
            print(f"{line}  [{m.file}]", file=out)
        for w in item.warnings:
            print(f"  !  {w.runbook}: {w.problem}  [{w.file}]", file=out)
    uncovered = report.uncovered
    if uncovered:
        print(f"\nRules no runbook handles ({len(uncovered)}):", file=out)
        for item in uncovered:
            print(f"  {item.rule.where}: {item.rule.alert}", file=out)
    if report.typos:
        print(
            f"\nTrigger names no alerting rule defines: typos, or events that do not come "
            f"from Prometheus ({len(report.typos)}):",
            file=out,
        )
        for typo in report.typos:
            print(f"  {typo}", file=out)
    print("\n" + summary(report), file=out)


def summary(report: Report) -> str:
    rules = report.rules
    files = len({item.rule.file for item in rules})
    definite = sum(any(m.verdict == "matches" for m in item.matches) for item in rules)
    maybe = sum(
        item.covered and not any(m.verdict == "matches" for m in item.matches) for item in rules
    )
    warnings = sum(len(item.warnings) for item in rules)
    return (
        f"{len(rules)} alerting rules in {files} files ({report.recording} recording rules "
        f"skipped): {definite} matched, {maybe} depend on runtime labels, "
        f"{len(report.uncovered)} handled by no runbook; {len(report.typos)} trigger names no "
        f"rule defines; {warnings} label warnings"
    )


def as_json(report: Report) -> dict[str, Any]:
    return {
        "rules": [
            {
                "file": item.rule.file,
                "line": item.rule.line,
                "col": item.rule.col,
                "group": item.rule.group,
                "alert": item.rule.alert,
                "severity": item.rule.severity,
                "for": item.rule.for_,
                "labels": sorted(item.labels.kept) if item.labels.kept is not None else None,
                "covered": item.covered,
                "matches": [asdict(m) for m in item.matches],
                "warnings": [asdict(w) for w in item.warnings],
            }
            for item in report.rules
        ],
        "uncovered": [f"{i.rule.where}: {i.rule.alert}" for i in report.uncovered],
        "typos": [asdict(t) for t in report.typos],
        "summary": summary(report),
    }


def write_json(report: Report, out: TextIO) -> None:
    json.dump(as_json(report), out, indent=2)
    out.write("\n")
