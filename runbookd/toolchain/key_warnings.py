"""``runbookd check --rules``: warn where a runbook's incident key needs a label the alerts that
can start it do not carry.

A ``group_by`` label an alert lacks is an empty part of the key (``labels.service=``), so every
such alert of every host joins one incident: what made every host of a fleet one incident in the
10.1 runbook (issue 17). Whether a rule's alerts carry a label is ``runbookd coverage``'s
analysis (``runbookd.toolchain.coverage``); this module turns its group_by findings into one
``PATH:LINE:COL: warning:`` line per runbook and label, at the ``group_by`` entry, naming the
rules. Warnings do not change ``check``'s exit status: only the running Prometheus knows some
labels (scrape labels, relabelling), and a warning is the cue to look.
"""

from __future__ import annotations

from collections.abc import Sequence

from runbookd.engine.compiler import trigger_conditions
from runbookd.engine.lang.conditions import All, AnyOf, Condition, Leaf
from runbookd.engine.lang.diagnostics import Diagnostic
from runbookd.engine.lang.loader import LoadedRunbook
from runbookd.engine.lang.model import Runbook
from runbookd.toolchain.coverage import Report

#: Rule names shown per warning; the rest are counted.
SHOWN = 3
#: Labels Prometheus attaches to every series it scrapes (its target labels): a rule on a plain
#: selector keeps them, so only an expression that drops them (coverage's "cannot carry") loses
#: them.
TARGET_LABELS = frozenset({"instance", "job"})


def key_warnings(report: Report, library: Sequence[LoadedRunbook]) -> list[Diagnostic]:
    """One warning per (runbook, group_by label) that some matching rule cannot surely set."""
    by_id = {item.runbook.id: item for item in library}
    found: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for rule in report.rules:
        for w in rule.warnings:
            item = by_id.get(w.runbook)
            if item is None or w.field not in item.runbook.detection.group_by:
                continue  # a trigger-condition warning: coverage reports those
            label = w.field.removeprefix("labels.")
            if label in TARGET_LABELS and "cannot carry" not in w.problem:
                continue
            if _required(item.runbook, w.field):
                continue  # an alert without the label starts nothing here
            problem, rules = found.setdefault((w.runbook, w.field), (w.problem, []))
            rules.append(f"{rule.rule.alert} ({rule.rule.file}:{rule.rule.line})")
    out: list[Diagnostic] = []
    for (rid, path), (problem, rules) in found.items():
        item = by_id[rid]
        index = item.runbook.detection.group_by.index(path)
        pos = item.source.value(("detection", "group_by", index))
        named = ", ".join(rules[:SHOWN]) + (
            f" and {len(rules) - SHOWN} more" if len(rules) > SHOWN else ""
        )
        label = path.removeprefix("labels.")
        out.append(
            Diagnostic(
                str(item.file),
                pos.line,
                pos.col,
                f"warning: {rid}: {problem}; alerts without {label} share one incident "
                f"(key {path}=): {named}",
            )
        )
    return sorted(out)


def _required(rb: Runbook, path: str) -> bool:
    """Every trigger tests ``path`` in a way only a present value passes."""
    return all(
        _requires(cond, path)
        for trigger in rb.detection.triggers
        for cond in trigger_conditions(trigger)
    )


def _requires(cond: Condition, path: str) -> bool:
    if isinstance(cond, Leaf):
        # Every operator but `exists: false` is false on a missing field (docs/runbook-language.md).
        return cond.field == path and cond.exists is not False
    if isinstance(cond, All):
        return any(_requires(c, path) for c in cond.all)
    if isinstance(cond, AnyOf):
        return all(_requires(c, path) for c in cond.any)
    return False  # `not`: a missing field may well pass it
