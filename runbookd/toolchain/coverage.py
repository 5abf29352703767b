"""``runbookd coverage``: which runbook triggers can match which Prometheus alerting rules.

Each rule is turned into what runbookd will know of its alerts before they exist: the name, the
static labels, the annotations that hold no template, and the set of labels its expression can
leave (``promql_labels``). The runbooks' own detection conditions are then evaluated on that by
the engine's evaluator (``holds_if_known``), so coverage and the running service cannot disagree
on what a condition means; a condition that needs a label only the series will tell is reported
as "depends on runtime labels", never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from runbookd.alerts.alertmanager import SOURCE
from runbookd.engine.evaluate import holds_if_known
from runbookd.engine.lang.conditions import Condition, Leaf, leaves, leaves_with_paths
from runbookd.engine.lang.diagnostics import did_you_mean
from runbookd.engine.lang.loader import LoadedRunbook
from runbookd.engine.lang.model import Runbook
from runbookd.toolchain.promql_labels import LabelSet, output_labels
from runbookd.toolchain.rules_files import AlertRule

Verdict = Literal["matches", "depends on runtime labels"]
NAME_FIELDS = ("name", "labels.alertname")
#: Labels Prometheus attaches to every series it scrapes: a rule that selects scraped series
#: keeps them unless its expression drops them (that is decided by ``promql_labels``).
TARGET_LABELS = frozenset({"instance", "job"})
#: A recording rule's output (``level:metric:operations``, the naming convention): its labels
#: are whatever that rule kept, so the target labels are not certain there.
STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
RECORDED = re.compile(r"(?<![\w:.\[])[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_:]*")


@dataclass(frozen=True)
class Match:
    runbook: str
    file: str
    trigger: str
    role: str  # "opens an incident", "half 1 of a correlation", "watched for absence"
    verdict: Verdict
    depends_on: tuple[str, ...] = ()
    #: runbooks whose open incidents suppress this one's (detection.inhibited_by)
    inhibited_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelWarning:
    runbook: str
    file: str
    field: str
    problem: str


@dataclass
class RuleCoverage:
    rule: AlertRule
    labels: LabelSet
    matches: list[Match] = field(default_factory=list)
    warnings: list[LabelWarning] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return bool(self.matches)


@dataclass(frozen=True)
class Typo:
    file: str
    line: int
    col: int
    runbook: str
    trigger: str
    name: str
    hint: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.col}: runbook {self.runbook} trigger {self.trigger}: "
            f"no alerting rule is named {self.name!r}{self.hint}"
        )


@dataclass
class Report:
    rules: list[RuleCoverage]
    typos: list[Typo]
    recording: int = 0

    @property
    def uncovered(self) -> list[RuleCoverage]:
        return [r for r in self.rules if not r.covered]


def _recorded(expr: str) -> bool:
    """Whether ``expr`` selects a recording rule's output (its strings are not names)."""
    return RECORDED.search(STRINGS.sub("", expr)) is not None


def _templated(text: str) -> bool:
    return "{{" in text


class RuleView:
    """An alert of ``rule`` as far as it is known before it fires: a lookup and what it knows."""

    def __init__(
        self,
        rule: AlertRule,
        labels: LabelSet,
        external: frozenset[str],
        *,
        absence_known: bool = True,
    ) -> None:
        self.rule = rule
        self.labels = labels
        self.external = external
        # False: a label the rule cannot carry counts as unknown instead of absent.
        self.absence_known = absence_known
        self.static = {**rule.labels, "alertname": rule.alert}

    def lookup(self, path: str) -> Any:
        head, _, rest = path.partition(".")
        fixed: dict[str, Any] = {
            "name": self.rule.alert,
            "kind": "alert",
            "source": SOURCE,
            "status": "firing",
        }
        if not rest:
            return fixed.get(head)
        if head == "labels":
            return self.static.get(rest)
        if head == "annotations":
            return self.rule.annotations.get(rest)
        return None

    def known(self, path: str) -> bool:
        head, _, rest = path.partition(".")
        if not rest:
            # Alertmanager alerts carry no value; a fingerprint is computed from runtime labels.
            return head in ("name", "kind", "source", "status", "value")
        if head == "labels":
            if rest in self.static:
                return not _templated(self.static[rest])
            return (
                self.absence_known
                and rest not in self.external
                and self.labels.can_carry(rest) is False
            )
        if head == "annotations":
            # Annotations come from the rule alone: absent here is absent in every alert.
            text = self.rule.annotations.get(rest)
            return text is None or not _templated(text)
        return False

    def carries(self, label: str) -> bool | None:
        """Whether every, no, or (None) some alert of the rule has ``label``."""
        if label in self.static or label in self.external:
            return True if label in self.static else None
        carried = self.labels.can_carry(label)
        if carried is None and label in TARGET_LABELS and not _recorded(self.rule.expr):
            return True  # the series are scraped ones, and Prometheus labels each with its target
        return carried


def _conditions(rb: Runbook, index: int) -> Iterator[tuple[Condition, str, tuple[str | int, ...]]]:
    trigger = rb.detection.triggers[index]
    base: tuple[str | int, ...] = ("detection", "triggers", index)
    if trigger.match is not None:
        yield trigger.match, "opens an incident", (*base, "match")
    if trigger.correlate is not None:
        for k, half in enumerate(trigger.correlate):
            yield half, f"half {k + 1} of a correlation", (*base, "correlate", k)
    if trigger.absent is not None:
        yield trigger.absent, "watched for absence", (*base, "absent")


def _undecided(cond: Condition, view: RuleView) -> tuple[str, ...]:
    return tuple(dict.fromkeys(leaf.field for leaf in leaves(cond) if not view.known(leaf.field)))


def _cover(rule: AlertRule, library: list[LoadedRunbook], external: frozenset[str]) -> RuleCoverage:
    labels = output_labels(rule.expr)
    view = RuleView(rule, labels, external)
    out = RuleCoverage(rule, labels)
    # The same view with every label the rule cannot carry made unknown: a trigger that only
    # this makes possible names the rule but tests a label its alerts never have.
    lenient = RuleView(rule, labels, external, absence_known=False)
    for item in library:
        rb = item.runbook
        if rb.detection.fallback:
            continue  # it takes only what no runbook handles: the safety net covers no rule
        matched: list[Condition] = []
        for index in range(len(rb.detection.triggers)):
            for cond, role, _ in _conditions(rb, index):
                verdict = holds_if_known(cond, view.lookup, view.known)
                if verdict is False:
                    if holds_if_known(cond, lenient.lookup, lenient.known) is not False:
                        missing = sorted(
                            {lf.field for lf in leaves(cond) if _uncarried(view, lf.field)}
                        )
                        for name in missing:
                            out.warnings.append(
                                LabelWarning(
                                    rb.id,
                                    item.file,
                                    name,
                                    _why_not(view, name, rb.trigger_id(index)),
                                )
                            )
                    continue
                matched.append(cond)
                out.matches.append(
                    Match(
                        rb.id,
                        item.file,
                        rb.trigger_id(index),
                        role,
                        "matches" if verdict else "depends on runtime labels",
                        () if verdict else _undecided(cond, view),
                        tuple(rule.runbook for rule in rb.detection.inhibited_by),
                    )
                )
        if matched:
            out.warnings.extend(_group_by_warnings(rb, item.file, view, matched))
    return out


def _uncarried(view: RuleView, path: str) -> bool:
    head, _, rest = path.partition(".")
    return head == "labels" and bool(rest) and view.carries(rest) is False


def _kept(view: RuleView) -> str:
    kept = sorted(view.labels.kept or ())
    static = sorted(view.static)
    return f"the expression keeps {', '.join(kept) or 'no label'}; static: {', '.join(static)}"


def _why_not(view: RuleView, field_name: str, trigger: str) -> str:
    return (
        f"trigger {trigger} names this alert but tests {field_name}, which its alerts cannot "
        f"carry ({_kept(view)}), so it never matches"
    )


def _requires(cond: Condition, view: RuleView, label: str) -> bool:
    """Whether ``cond`` cannot hold for an alert of the rule that lacks ``label``."""
    path = f"labels.{label}"

    def lookup(field_path: str) -> Any:
        return None if field_path == path else view.lookup(field_path)

    def known(field_path: str) -> bool:
        return field_path == path or view.known(field_path)

    return holds_if_known(cond, lookup, known) is False


def _group_by_warnings(
    rb: Runbook, file: str, view: RuleView, matched: list[Condition]
) -> list[LabelWarning]:
    """``matched``: the runbook's conditions that can take the rule's alerts; a label that every
    one of them requires (``exists: true``) keys no incident empty, so it is no warning."""
    out: list[LabelWarning] = []
    for path in rb.detection.group_by:
        head, _, label = path.partition(".")
        if head != "labels" or not label:
            continue
        carried = view.carries(label)
        if carried is False:
            problem = (
                f"group_by {path}: its alerts cannot carry it ({_kept(view)}), so "
                "that part of the incident key is always empty"
            )
        elif carried is None and not view.labels.closed:
            if all(_requires(cond, view, label) for cond in matched):
                continue  # alerts without it match no trigger: they go to the fallback
            problem = (
                f"group_by {path}: the rule does not set it; only series that carry it "
                "(scrape labels, relabelling) will have it"
            )
        else:
            continue
        out.append(LabelWarning(rb.id, file, path, problem))
    return out


def _typos(
    rules: list[AlertRule], library: list[LoadedRunbook], external: frozenset[str]
) -> list[Typo]:
    names = {rule.alert for rule in rules}
    out: list[Typo] = []
    for item in library:
        rb = item.runbook
        for index in range(len(rb.detection.triggers)):
            for cond, _, base in _conditions(rb, index):
                for leaf, path in leaves_with_paths(cond, base):
                    for name, at in _pinned_names(leaf, path):
                        if name in names or not _about_alerts(cond, name, external):
                            continue
                        pos = item.source.value(at)
                        out.append(
                            Typo(
                                item.file,
                                pos.line,
                                pos.col,
                                rb.id,
                                rb.trigger_id(index),
                                name,
                                did_you_mean(name, names),
                            )
                        )
    return out


def _pinned_names(
    leaf: Leaf, path: tuple[str | int, ...]
) -> list[tuple[str, tuple[str | int, ...]]]:
    if leaf.field not in NAME_FIELDS or "not" in path:
        return []
    if leaf.op == "eq" and isinstance(leaf.eq, str):
        return [(leaf.eq, (*path, "eq"))]
    if leaf.op == "in" and leaf.in_ is not None:
        return [(str(v), (*path, "in", i)) for i, v in enumerate(leaf.in_)]
    return []


def _about_alerts(cond: Condition, name: str, external: frozenset[str]) -> bool:
    """Could an Alertmanager alert called ``name`` match? (No: the trigger wants app events.)"""
    probe = AlertRule(file="", line=0, col=0, group="", alert=name, expr="up")
    view = RuleView(probe, LabelSet(), external)
    return holds_if_known(cond, view.lookup, view.known) is not False


def coverage(
    rules: list[AlertRule],
    library: list[LoadedRunbook],
    *,
    external_labels: frozenset[str] = frozenset(),
    recording: int = 0,
) -> Report:
    return Report(
        rules=[_cover(rule, library, external_labels) for rule in rules],
        typos=_typos(rules, library, external_labels),
        recording=recording,
    )
