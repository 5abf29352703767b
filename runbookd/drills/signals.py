"""The synthetic side of a drill: events that fire each trigger, and the connector answers that
let every step's ``when``, verification and the impact figures go the way a good day would.

Everything is derived from the runbook itself with ``drill_synth``: nothing here knows any
alert name. A trigger whose condition cannot be met gets a ``Plan`` with ``problem`` set, which
the drill reports as a failure with that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from runbookd.drills.synth import Unsatisfiable, solutions
from runbookd.engine.lang.conditions import Condition
from runbookd.engine.lang.model import Runbook, Step, Trigger

#: Different solutions tried per trigger (e.g. each alert name of an `in` list, up to this many).
VARIANTS_PER_TRIGGER = 4
#: Further variants made to take the branches of steps' `when` conditions on the alert.
HINTED_VARIANTS = 4
_TEMPLATE_LABEL = re.compile(r"\b(?:alert|incident)\.labels\.([A-Za-z_][A-Za-z0-9_]*)")
_TEMPLATE_RESULT = re.compile(
    r"\bsteps\.([a-z0-9][a-z0-9_-]*)\.result\.([A-Za-z0-9_][A-Za-z0-9_.]*)"
)


@dataclass
class Plan:
    """One drill of one trigger: events at offsets and when the incident should open."""

    trigger: str
    variant: int
    events: list[tuple[timedelta, dict[str, Any]]] = field(default_factory=list)
    detect_by: timedelta = timedelta(0)
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"{self.trigger}#{self.variant + 1}"


def _spacing(trigger: Trigger, n: int) -> timedelta:
    # Far enough apart to be distinct notifications, close enough to fit the window.
    window = trigger.within or timedelta(minutes=1)
    return min(timedelta(seconds=1), window / (2 * max(n, 1)))


def template_labels(runbook: Runbook) -> set[str]:
    """Labels the runbook's templates read: the synthetic events carry them, as real ones would."""
    text = runbook.model_dump_json(by_alias=True)
    return set(_TEMPLATE_LABEL.findall(text))


class SignalBuilder:
    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook
        self.key_paths = list(runbook.detection.group_by)
        self.extra = {f"labels.{name}": f"drill-{name}" for name in template_labels(runbook)}
        self.extra.update({p: f"drill-{p.rsplit('.', 1)[-1]}" for p in self.key_paths})
        self.hints = self._alert_hints()

    def _alert_hints(self) -> list[dict[str, Any]]:
        """Opening events that would make each step's `when` on `alert.*` hold."""
        hints: list[dict[str, Any]] = []
        # The opening event is `alert.*`; its labels are also the incident's labels.
        prefixes = (("alert.", ""), ("incident.labels.", "labels."))
        for step in self.runbook.handling.steps:
            for prefix, replacement in prefixes:
                if step.when is None or prefix not in step.when.model_dump_json():
                    continue
                try:
                    docs = solutions(step.when, only=prefix, limit=VARIANTS_PER_TRIGGER)
                except Unsatisfiable:
                    continue  # reported by the step's check: it never runs
                for doc in docs:
                    hint = {replacement + k.removeprefix(prefix): v for k, v in doc.items()}
                    if hint and hint not in hints:
                        hints.append(hint)
        return hints

    def _with_hints(
        self, cond: Condition, docs: list[dict[str, Any]], pinned: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        out = list(docs)
        added = 0
        for hint in self.hints:
            if added >= HINTED_VARIANTS:
                break
            try:
                doc = self._solve(cond, pinned={**hint, **(pinned or {})})[0]
            except Unsatisfiable:
                continue
            if doc not in out:
                out.append(doc)
                added += 1
        return out

    # --- events ---------------------------------------------------------------------------

    def _solve(self, cond: Condition, pinned: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        docs = solutions(cond, pinned=pinned, prefer=self.extra, limit=VARIANTS_PER_TRIGGER)
        return [self._complete(cond, doc) for doc in docs]

    def _complete(self, cond: Condition, doc: dict[str, Any]) -> dict[str, Any]:
        """Add the labels templates and the key read, where the condition allows them."""
        from runbookd.engine.evaluate import holds

        out = dict(doc)
        for path, value in self.extra.items():
            if path in out:
                continue
            trial = {**out, path: value}
            if holds(cond, trial.get):
                out = trial
        return out

    def key_of(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {p: doc.get(p) for p in self.key_paths}

    def plans(self) -> list[Plan]:
        out: list[Plan] = []
        for index, trigger in enumerate(self.runbook.detection.triggers):
            name = self.runbook.trigger_id(index)
            try:
                out.extend(self._plans_for(name, trigger))
            except Unsatisfiable as exc:
                out.append(Plan(name, 0, problem=f"cannot synthesise an event: {exc}"))
        return out

    def _plans_for(self, name: str, trigger: Trigger) -> list[Plan]:
        if trigger.correlate is not None:
            first, second = trigger.correlate[0], trigger.correlate[1]
            halves_a = self._solve(first)
            plans = []
            for i in range(len(halves_a)):
                a = halves_a[i]
                try:
                    halves_b = self._solve(second, pinned=self.key_of(a))
                except Unsatisfiable as exc:
                    raise Unsatisfiable(f"second half of the correlation: {exc}") from None
                b = halves_b[i % len(halves_b)]
                gap = _spacing(trigger, 2)
                plans.append(Plan(name, i, [(timedelta(0), a), (gap, b)], detect_by=gap))
            # The completing half opens the incident: it is the `alert` steps look at.
            a = halves_a[0]
            base = self._solve(second, pinned=self.key_of(a))
            for b in self._with_hints(second, base, self.key_of(a))[len(base) :]:
                gap = _spacing(trigger, 2)
                plans.append(Plan(name, len(plans), [(timedelta(0), a), (gap, b)], detect_by=gap))
            return plans
        if trigger.absent is not None:
            assert trigger.within is not None
            if not self.key_paths:
                # Without group_by silence from the start is watched: send nothing at all.
                return [Plan(name, 0, [], detect_by=trigger.within)]
            beat = self._solve(trigger.absent)[0]
            return [Plan(name, 0, [(timedelta(0), beat)], detect_by=trigger.within)]
        assert trigger.match is not None
        plans = []
        for i, doc in enumerate(self._with_hints(trigger.match, self._solve(trigger.match))):
            if trigger.count is not None:
                gap = _spacing(trigger, trigger.count)
                events = [(gap * n, doc) for n in range(trigger.count)]
                plans.append(Plan(name, i, events, detect_by=gap * (trigger.count - 1)))
            else:
                hold = trigger.for_ or timedelta(0)
                plans.append(Plan(name, i, [(timedelta(0), doc)], detect_by=hold))
        return plans

    def verify_event(self, step: Step, key: dict[str, Any]) -> dict[str, Any]:
        """The recovery event a step's ``verify.event`` waits for, with the incident's key."""
        assert step.verify is not None and step.verify.event is not None
        doc = self._solve(step.verify.event, pinned=key)[0]
        # Its own identity: it proves the recovery without resolving the alerts the drill opened.
        doc.setdefault("fingerprint", f"drill-verify-{step.id}")
        return doc

    # --- connector answers ----------------------------------------------------------------

    def answers(self) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
        """(connector, step or impact id) -> result to answer with; and what could not be met."""
        results: dict[tuple[str, str], dict[str, Any]] = {}
        problems: list[str] = []
        steps = {s.id: s for s in self.runbook.handling.steps}

        def merge(connector: str, step_id: str, flat: dict[str, Any]) -> None:
            target = results.setdefault((connector, step_id), {})
            for path, value in flat.items():
                _put(target, path.split("."), value)

        # Fields the templates read get a plain value first; conditions below override them.
        for step_id, path in _TEMPLATE_RESULT.findall(self.runbook.model_dump_json(by_alias=True)):
            src = steps.get(step_id)
            if src is not None:
                merge(src.connector, step_id, {path.rstrip("."): 1})
        for step in self.runbook.handling.steps:
            if step.when is not None:
                for earlier in _step_refs(step.when):
                    prefix = f"steps.{earlier}.result."
                    try:
                        doc = solutions(step.when, only=prefix, limit=1)[0]
                    except Unsatisfiable as exc:
                        problems.append(f"step {step.id}: its when cannot hold: {exc}")
                        continue
                    src = steps.get(earlier)
                    if src is not None:
                        flat = {k[len(prefix) :]: v for k, v in doc.items()}
                        merge(src.connector, earlier, flat)
            verify = step.verify
            if verify is not None and verify.check is not None and verify.expect is not None:
                try:
                    doc = solutions(verify.expect, only="result.", limit=1)[0]
                except Unsatisfiable as exc:
                    problems.append(f"step {step.id}: its verification can never pass: {exc}")
                    continue
                flat = {k[len("result.") :]: v for k, v in doc.items()}
                merge(verify.check.connector, step.id, flat)
        for impact in self.runbook.postmortem.impact:
            merge(impact.connector, impact.id, {impact.field: 0})
        return results, problems


def _step_refs(cond: Condition) -> set[str]:
    text = cond.model_dump_json(by_alias=True)
    return set(re.findall(r'"steps\.([a-z0-9][a-z0-9_.-]*?)\.result\.', text))


def _put(target: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set a dotted path, creating mappings on the way (list indexes become mapping keys)."""
    head, rest = parts[0], parts[1:]
    if not rest:
        target[head] = value
        return
    child = target.get(head)
    if not isinstance(child, dict):
        child = {}
        target[head] = child
    _put(child, rest, value)
