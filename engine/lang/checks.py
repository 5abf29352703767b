"""Checks that need the whole runbook: connectors and their parameters, templates, field paths,
regexes, duplicate ids, references between steps and levels, reachability, and whether the
compiled rules load in durable_rules. Every problem is reported, each at its node."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import ConnectorSpec
from engine.compiler import compile_runbook
from engine.events import is_known_path
from engine.lang.conditions import Condition, leaves_with_paths
from engine.lang.diagnostics import Diagnostic, did_you_mean
from engine.lang.loader import LoadedRunbook
from engine.lang.model import Call, Runbook
from engine.lang.source import Path
from engine.rules import lint, validate_in_child
from engine.templating import (
    IMPACT_VARS,
    LEVEL_VARS,
    STEP_VARS,
    TemplateError,
    is_template,
    references,
    template_strings,
)

INCIDENT_ATTRS = (
    "id",
    "key",
    "title",
    "severity",
    "scope",
    "complexity",
    "nature",
    "status",
    "labels",
    "opened_at",
    "acked_by",
    "alerts",
    "runbook",
    "section",
    "team",
    "age",
)
INCIDENT_CONDITION = ("severity", "scope", "complexity", "alerts", "age", "status", "nature")
ATTRS: dict[str, tuple[str, ...]] = {
    "incident": INCIDENT_ATTRS,
    "runbook": ("id", "title", "version", "section", "team"),
    "alert": ("name", "labels", "annotations", "value", "status", "fingerprint", "starts_at"),
    "step": ("id", "target"),
    "level": ("id", "who"),
    "window": ("start", "end", "duration", "seconds"),
}
STEP_ATTRS = ("outcome", "result", "attempts")
OUTCOMES = ("ok", "skipped", "failed", "denied", "expired")


class _Checker:
    def __init__(self, loaded: LoadedRunbook, specs: Mapping[str, ConnectorSpec]) -> None:
        self.loaded, self.rb, self.specs = loaded, loaded.runbook, specs
        self.out: list[Diagnostic] = []

    def err(self, path: Path, message: str, *, key: bool = False) -> None:
        self.out.append(self.loaded.at(path, message, key=key))

    def run(self) -> list[Diagnostic]:
        rb = self.rb
        det = rb.detection
        for i, entry in enumerate(det.group_by):
            self._event_path(entry, ("detection", "group_by", i))
        for i, trig in enumerate(det.triggers):
            base: Path = ("detection", "triggers", i)
            if trig.correlate is not None:
                for j, cond in enumerate(trig.correlate):
                    self._condition(cond, (*base, "correlate", j), "event")
            else:
                field = "match" if trig.match is not None else "absent"
                single = trig.match if trig.match is not None else trig.absent
                if single is not None:
                    self._condition(single, (*base, field), "event")
        for i, rule in enumerate(det.raise_):
            self._condition(rule.when, ("detection", "raise", i, "when"), "raise")
        if rb.resolution.when is not None:
            self._condition(rb.resolution.when, ("resolution", "when"), "event")
        self._duplicates([t.id for t in det.triggers], ("detection", "triggers"), "trigger")
        self._escalation()
        self._steps()
        for i, impact in enumerate(rb.postmortem.impact):
            self._call(impact, ("postmortem", "impact", i), IMPACT_VARS, None)
        self._duplicates([m.id for m in rb.postmortem.impact], ("postmortem", "impact"), "impact")
        return self.out

    # --- escalation and steps ---------------------------------------------------------------

    def _escalation(self) -> None:
        esc = self.rb.escalation
        if esc is None:
            return
        early = any(
            s.on_failure.then == "escalate" or (s.approval and s.approval.on_timeout == "escalate")
            for s in self.rb.handling.steps
        )
        for i, level in enumerate(esc.levels):
            self._call(level, ("escalation", "levels", i), LEVEL_VARS, None)
            prev = esc.levels[i - 1] if i else None
            if prev is not None and prev.ack_within is None and not early and esc.repeat == 0:
                self.err(
                    ("escalation", "levels", i, "id"),
                    f"escalation level {level.id!r} can never be reached: level {prev.id!r} "
                    "has no ack_within and no step escalates",
                )
        if esc.repeat and esc.levels[-1].ack_within is None:
            self.err(
                ("escalation", "repeat"),
                f"repeat has no effect: the last level {esc.levels[-1].id!r} has no ack_within",
            )
        self._duplicates([lv.id for lv in esc.levels], ("escalation", "levels"), "escalation level")

    def _steps(self) -> None:
        steps = self.rb.handling.steps
        for i, step in enumerate(steps):
            base: Path = ("handling", "steps", i)
            earlier = [s.id for s in steps[:i]]
            self._call(step, base, STEP_VARS, earlier)
            if step.target is not None:
                self._template(step.target, (*base, "target"), STEP_VARS, earlier)
            if step.rollback is not None:
                self._call(step.rollback, (*base, "rollback"), STEP_VARS, earlier + [step.id])
            if step.verify is not None:
                v = step.verify
                if v.event is not None:
                    self._condition(v.event, (*base, "verify", "event"), "event")
                if v.check is not None:
                    self._call(v.check, (*base, "verify", "check"), STEP_VARS, earlier + [step.id])
                if v.expect is not None:
                    self._condition(v.expect, (*base, "verify", "expect"), "result")
            if step.when is not None:
                self._condition(step.when, (*base, "when"), "step", earlier)
        self._duplicates([s.id for s in steps], ("handling", "steps"), "step")

    def _possible_outcomes(self, step_id: str) -> list[str]:
        step = next(s for s in self.rb.handling.steps if s.id == step_id)
        out = ["ok"]
        if step.when is not None:
            out.append("skipped")
        if step.on_failure.then == "continue":
            out.append("failed")
        if step.approval is not None:
            out.append("denied")
            if step.approval.on_timeout == "skip":
                out.append("expired")
        return out

    # --- calls and templates ------------------------------------------------------------------

    def _call(
        self, call: Call, base: Path, allowed: frozenset[str], earlier: list[str] | None
    ) -> None:
        spec = self.specs.get(call.connector)
        if spec is None:
            known = ", ".join(sorted(self.specs))
            self.err(
                (*base, "connector"),
                f"unknown connector {call.connector!r}"
                f"{did_you_mean(call.connector, self.specs)}; known: {known}",
            )
        else:
            names = spec.param_names()
            for key in call.params:
                if key not in names:
                    self.err(
                        (*base, "params", key),
                        f"unknown parameter {key!r} for connector "
                        f"{call.connector!r}{did_you_mean(key, names)}; allowed: {', '.join(names)}",
                        key=True,
                    )
            missing = [p for p in spec.required_params() if p not in call.params]
            if missing:
                where: Path = (*base, "params") if call.params else (*base, "connector")
                self.err(
                    where,
                    f"connector {call.connector!r} needs parameter(s): {', '.join(missing)}",
                    key=True,
                )
        for sub, text in template_strings(call.params):
            self._template(text, (*base, "params", *sub), allowed, earlier)

    def _template(
        self, text: str, path: Path, allowed: frozenset[str], earlier: list[str] | None
    ) -> None:
        if not is_template(text):
            return
        try:
            refs = references(text)
        except TemplateError as exc:
            self.err(path, str(exc))
            return
        for ref in refs:
            if ref.root not in allowed:
                self.err(
                    path,
                    f"template uses {ref.root!r}, which does not exist here"
                    f"{did_you_mean(ref.root, allowed)}; available: {', '.join(sorted(allowed))}",
                )
            elif ref.root == "steps":
                self._step_ref(ref.chain, path, earlier, "template")
            elif ref.chain and ref.root in ATTRS and ref.chain[0] not in ATTRS[ref.root]:
                attr = ref.chain[0]
                self.err(
                    path,
                    f"template uses {ref.root}.{attr}, which does not exist"
                    f"{did_you_mean(attr, ATTRS[ref.root])}; {ref.root} has: "
                    f"{', '.join(ATTRS[ref.root])}",
                )

    def _step_ref(
        self, chain: Sequence[str], path: Path, earlier: list[str] | None, what: str
    ) -> bool:
        if not chain:
            return True
        all_ids = [s.id for s in self.rb.handling.steps]
        sid = chain[0]
        visible = all_ids if earlier is None else earlier
        if sid not in visible:
            where = (
                "no step" if sid not in all_ids else "a step that is not defined before this one:"
            )
            self.err(path, f"{what} refers to {where} {sid!r}{did_you_mean(sid, visible)}")
            return False
        if len(chain) > 1 and chain[1] not in STEP_ATTRS:
            self.err(
                path,
                f"{what} uses steps.{sid}.{chain[1]}; a step has: {', '.join(STEP_ATTRS)}"
                f"{did_you_mean(chain[1], STEP_ATTRS)}",
            )
            return False
        return True

    # --- conditions ---------------------------------------------------------------------------

    def _condition(
        self, cond: Condition, base: Path, context: str, earlier: list[str] | None = None
    ) -> None:
        for leaf, path in leaves_with_paths(cond, base):
            fpath: Path = (*path, "field")
            if leaf.matches is not None:
                try:
                    re.compile(leaf.matches)
                except re.error as exc:
                    self.err((*path, "matches"), f"bad regular expression {leaf.matches!r}: {exc}")
            field = leaf.field
            head, _, rest = field.partition(".")
            if context in ("raise", "step", "result") and head == "incident":
                sub = rest.partition(".")[0]
                if (sub in ("labels", "distinct") and "." in rest) or sub in INCIDENT_CONDITION:
                    continue
                self.err(
                    fpath,
                    f"unknown field {field!r}: incident has "
                    f"{', '.join(INCIDENT_CONDITION)}, labels.X, distinct.X"
                    f"{did_you_mean(rest, INCIDENT_CONDITION)}",
                )
            elif context == "step" and head == "steps":
                parts = rest.split(".")
                if (
                    self._step_ref(parts, fpath, earlier, "condition")
                    and len(parts) >= 2
                    and parts[1] == "outcome"
                ):
                    self._outcome_leaf(
                        leaf.eq if leaf.eq is not None else leaf.in_, parts[0], fpath
                    )
            elif context == "step" and head == "alert":
                self._event_path(rest, fpath)
            elif context == "result" and head == "result" and rest:
                continue
            elif context in ("event", "raise"):
                self._event_path(field, fpath)
            else:
                self.err(fpath, f"unknown field {field!r} here")

    def _outcome_leaf(self, operand: Any, step_id: str, path: Path) -> None:
        if operand is None:
            return
        values = operand if isinstance(operand, list) else [operand]
        possible = self._possible_outcomes(step_id)
        for value in values:
            if value not in OUTCOMES:
                self.err(
                    path,
                    f"{value!r} is not a step outcome{did_you_mean(str(value), OUTCOMES)}; "
                    f"outcomes: {', '.join(OUTCOMES)}",
                )
                return
        if not any(v in possible for v in values):
            self.err(
                path,
                f"this step can never run: it needs steps.{step_id}.outcome in "
                f"{values!r} but step {step_id!r} only ends {', '.join(possible)}",
            )

    def _event_path(self, field: str, path: Path) -> None:
        if not is_known_path(field):
            choices = [
                "kind",
                "name",
                "status",
                "source",
                "value",
                "fingerprint",
                "labels." + field.partition(".")[2],
                "annotations." + field.partition(".")[2],
            ]
            self.err(
                path,
                f"unknown field {field!r}{did_you_mean(field, choices)}; events have "
                "kind, name, status, source, value, fingerprint, labels.X, annotations.X, fields.X",
            )

    def _duplicates(self, ids: Sequence[str | None], base: Path, what: str) -> None:
        seen: dict[str, int] = {}
        for i, ident in enumerate(ids):
            if ident is None:
                continue
            if ident in seen:
                first = self.loaded.source.value((*base, seen[ident], "id"))
                self.err(
                    (*base, i, "id"), f"duplicate {what} id {ident!r} (first at line {first.line})"
                )
            else:
                seen[ident] = i


def check_runbook(loaded: LoadedRunbook, specs: Mapping[str, ConnectorSpec]) -> list[Diagnostic]:
    return _Checker(loaded, specs).run()


def check_all(
    loaded: Sequence[LoadedRunbook], specs: Mapping[str, ConnectorSpec], *, load_rules: bool = True
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    first: dict[str, LoadedRunbook] = {}
    clean: list[LoadedRunbook] = []
    for item in loaded:
        problems = check_runbook(item, specs)
        out.extend(problems)
        rid = item.runbook.id
        if rid in first:
            out.append(
                item.at(("id",), f"duplicate runbook id {rid!r} (also in {first[rid].file})")
            )
        else:
            first[rid] = item
            if not problems:
                clean.append(item)
    if not load_rules or not clean:
        return out
    definitions: list[dict[str, Any]] = []
    owners: list[LoadedRunbook] = []
    for item in clean:
        for ruleset in compile_runbook(item.runbook).rulesets():
            problems_ = lint(ruleset.definition())
            if problems_:
                out.append(
                    item.at(
                        ("detection",),
                        "compiled rules break a durable_rules limit: " + "; ".join(problems_),
                        key=True,
                    )
                )
            definitions.append(ruleset.definition())
            owners.append(item)
    for item, verdict in zip(owners, validate_in_child(definitions), strict=True):
        if verdict is not None:
            out.append(
                item.at(
                    ("detection",),
                    f"compiled rules do not load in durable_rules: {verdict}",
                    key=True,
                )
            )
    return out


__all__ = ["Runbook", "check_all", "check_runbook"]
