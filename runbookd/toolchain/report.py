"""How ``runbookd test`` prints results: a line per expectation, a diff on failure, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from runbookd.engine.lang.durations import format_duration
from runbookd.toolchain.scenario import ScenarioResult


def print_results(results: Sequence[ScenarioResult], out: TextIO, *, verbose: bool = False) -> None:
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        out.write(f"{mark} {result.file}" + (f": {result.title}" if result.title else "") + "\n")
        for error in result.errors:
            out.write(f"  error: {error}\n")
        for check in result.checks:
            if check.passed and not verbose:
                continue
            out.write(f"  {'ok  ' if check.passed else 'FAIL'} {check.name}\n")
            for line in check.detail.splitlines():
                out.write(f"       {line}\n")
        if not result.passed and result.timeline and result.start is not None:
            out.write("  timeline:\n")
            for command in result.timeline:
                if command.kind in ("start_timer", "cancel_timer"):
                    continue
                offset = format_duration(command.at - result.start)
                out.write(f"    +{offset:>8} {command.summary().split(' ', 1)[1]}\n")
    checks = [c for r in results for c in r.checks]
    failed = sum(not c.passed for c in checks) + sum(len(r.errors) for r in results)
    out.write(
        f"{len(results)} scenarios: {len(checks) - sum(not c.passed for c in checks)} passed, {failed} failed\n"
    )


def write_junit(results: Sequence[ScenarioResult], path: Path) -> None:
    suites = ET.Element("testsuites", name="runbookd")
    for result in results:
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=result.file,
            tests=str(len(result.checks) + len(result.errors)),
            failures=str(sum(not c.passed for c in result.checks)),
            errors=str(len(result.errors)),
        )
        for error in result.errors:
            case = ET.SubElement(suite, "testcase", classname=result.file, name="scenario loads")
            ET.SubElement(case, "error", message=error)
        for check in result.checks:
            case = ET.SubElement(suite, "testcase", classname=result.file, name=check.name)
            if not check.passed:
                failure = ET.SubElement(case, "failure", message=check.name)
                failure.text = check.detail
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
