"""What one step may know about the others: which results it can read, and which outcomes of an
earlier step it can ever see. Used by the template and condition checks in ``engine.lang.checks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runbookd.engine.lang.conditions import All, AnyOf, Condition, Leaf, leaves_with_paths
from runbookd.engine.lang.diagnostics import Diagnostic, did_you_mean
from runbookd.engine.lang.loader import LoadedRunbook
from runbookd.engine.lang.model import Step
from runbookd.engine.lang.source import Path

OUTCOMES = ("ok", "skipped", "failed", "denied", "expired")
STEP_ATTRS = ("outcome", "result", "attempts")

#: How to make each outcome possible, for the "can never run" message.
_HOW_TO_GET = {
    "skipped": "give it a when: so that it can be skipped",
    "failed": "set on_failure.then: continue to go on after a failure",
    "denied": "give it an approval: so that it can be denied",
    "expired": "set approval.on_timeout: skip to go on after an expired approval",
}


@dataclass(frozen=True)
class StepScope:
    """The steps whose state a template or condition may read at its place in the runbook."""

    every: tuple[str, ...]
    visible: tuple[str, ...]
    #: The step being checked, for messages; None where every step is visible (impact figures).
    current: str | None = None

    @classmethod
    def before(cls, steps: Sequence[Step], index: int, *, itself: bool = False) -> StepScope:
        """Steps ahead of ``steps[index]`` (and the step itself once it has run: ``itself``)."""
        ids = tuple(s.id for s in steps)
        return cls(ids, ids[: index + 1 if itself else index], ids[index])

    @classmethod
    def after_all(cls, steps: Sequence[Step]) -> StepScope:
        ids = tuple(s.id for s in steps)
        return cls(ids, ids)

    def problem(self, what: str, step_id: str) -> str | None:
        """Why ``step_id`` cannot be read here, or None when it can."""
        if step_id in self.visible:
            return None
        if step_id not in self.every:
            return f"{what} refers to no step {step_id!r}{did_you_mean(step_id, self.visible)}"
        if step_id == self.current:
            return f"{what} refers to step {step_id!r} itself; a step sees only the steps before it"
        return (
            f"{what} refers to step {step_id!r}, which is not defined before step {self.current!r}"
        )


def possible_outcomes(step: Step) -> tuple[str, ...]:
    """Outcomes of ``step`` that the steps after it can observe (others stop the handling)."""
    possible = {"ok"}
    if step.when is not None:
        possible.add("skipped")
    if step.on_failure.then == "continue":
        possible.add("failed")
    if step.approval is not None:
        possible.add("denied")
        if step.approval.on_timeout == "skip":
            possible.add("expired")
    return tuple(o for o in OUTCOMES if o in possible)


def outcome_problems(
    loaded: LoadedRunbook, index: int, cond: Condition, base: Path
) -> list[Diagnostic]:
    """Bad outcome names in ``steps[index].when``, and outcomes it waits for that cannot happen."""
    steps = loaded.runbook.handling.steps
    earlier = {s.id: s for s in steps[:index]}
    found: list[Diagnostic] = []
    for leaf, path in leaves_with_paths(cond, base):
        if _outcome_step(leaf, earlier) is None:
            continue
        for value_path, value in _operand_values(leaf, path):
            if value not in OUTCOMES:
                found.append(
                    loaded.at(
                        value_path,
                        f"unknown step outcome {value!r}{did_you_mean(str(value), OUTCOMES)}; "
                        f"outcomes: {', '.join(OUTCOMES)}",
                    )
                )
    for leaf, path in _impossible(cond, base, earlier) or []:
        step = _outcome_step(leaf, earlier)
        assert step is not None  # _impossible only returns outcome leaves on earlier steps
        found.append(loaded.at((*path, "field"), _never_runs(steps[index].id, leaf, step)))
    return found


def _outcome_step(leaf: Leaf, earlier: dict[str, Step]) -> Step | None:
    head, _, rest = leaf.field.partition(".")
    step_id, _, attr = rest.partition(".")
    return earlier.get(step_id) if head == "steps" and attr == "outcome" else None


def _operand_values(leaf: Leaf, path: Path) -> list[tuple[Path, Any]]:
    if leaf.op in ("eq", "ne"):
        return [((*path, leaf.op), leaf.operand)]
    if leaf.op in ("in", "not_in"):
        return [((*path, leaf.op, i), v) for i, v in enumerate(leaf.operand)]
    return []


def _wanted(leaf: Leaf) -> list[Any] | None:
    """The outcomes an eq/in leaf accepts; None for operators that do not pin an outcome."""
    if leaf.op == "eq":
        return [leaf.operand]
    if leaf.op == "in":
        return list(leaf.operand)
    return None


def _impossible(
    cond: Condition, path: Path, earlier: dict[str, Step]
) -> list[tuple[Leaf, Path]] | None:
    """The outcome leaves that make ``cond`` unsatisfiable, or None when it may hold.

    Only ``all``/``any`` are followed: under ``not`` an impossible leaf makes the condition
    *always* hold, which is not a reachability problem.
    """
    if isinstance(cond, Leaf):
        step = _outcome_step(cond, earlier)
        wanted = _wanted(cond)
        if step is None or wanted is None or any(w not in OUTCOMES for w in wanted):
            return None  # unknown names are reported on their own, once
        return None if set(wanted) & set(possible_outcomes(step)) else [(cond, path)]
    if isinstance(cond, All | AnyOf):
        key = "all" if isinstance(cond, All) else "any"
        children = cond.all if isinstance(cond, All) else cond.any
        verdicts = [_impossible(c, (*path, key, i), earlier) for i, c in enumerate(children)]
        if isinstance(cond, All):
            blocking = [hit for v in verdicts if v for hit in v]
            return blocking or None
        if all(v is not None for v in verdicts):
            return [hit for v in verdicts if v for hit in v]
    return None


def _never_runs(step_id: str, leaf: Leaf, earlier: Step) -> str:
    wanted = _wanted(leaf) or []
    need = f"== {wanted[0]!r}" if leaf.op == "eq" else f"in {wanted!r}"
    hints = [_HOW_TO_GET[w] for w in dict.fromkeys(wanted) if w in _HOW_TO_GET]
    return (
        f"step {step_id!r} can never run: it needs {leaf.field} {need} but step {earlier.id!r} "
        f"only ends {', '.join(possible_outcomes(earlier))}"
        + (f" ({'; '.join(hints)})" if hints else "")
    )
