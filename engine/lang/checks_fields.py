"""Checks on conditions: the field paths each place may read, regular expressions, and ``all``
blocks that demand two different values of one field.

Where a condition sits decides what it can see:

* ``event`` -- detection triggers, resolution.when, verify.event: the event itself;
* ``raise`` -- detection.raise[].when: the event and the open incident (``incident.*``);
* ``step`` -- handling.steps[].when: ``incident.*``, the first alert (``alert.*``) and the
  state of earlier steps (``steps.<id>.*``);
* ``expect`` -- verify.expect: the check's ``result.*`` and ``incident.*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from runbookd.engine.events import EVENT_FIELDS, EVENT_MAPS, is_known_path
from runbookd.engine.lang.checks_steps import StepScope
from runbookd.engine.lang.conditions import (
    All,
    AnyOf,
    Condition,
    Leaf,
    Not,
    Scalar,
    leaves_with_paths,
)
from runbookd.engine.lang.diagnostics import Diagnostic, did_you_mean
from runbookd.engine.lang.loader import LoadedRunbook
from runbookd.engine.lang.source import Path

Place = Literal["event", "raise", "step", "expect"]

INCIDENT_FIELDS = ("severity", "scope", "complexity", "alerts", "age")
INCIDENT_MAPS = ("labels", "distinct")
STEP_FIELDS = ("outcome", "attempts")

_EVENT_HELP = "kind, name, status, source, value, fingerprint, labels.X, annotations.X, fields.X"
_INCIDENT_HELP = "incident." + ", incident.".join(INCIDENT_FIELDS + ("labels.X", "distinct.X"))
_HELP: dict[Place, str] = {
    "event": f"events have {_EVENT_HELP}",
    "raise": f"here: {_EVENT_HELP}, {_INCIDENT_HELP}",
    "step": f"here: {_INCIDENT_HELP}, alert.<event field>, steps.<earlier step>."
    "outcome|attempts|result.X",
    "expect": f"here: result.X, {_INCIDENT_HELP}",
}


def check_condition(
    loaded: LoadedRunbook, cond: Condition, base: Path, place: Place, steps: StepScope | None = None
) -> list[Diagnostic]:
    """Field paths, regular expressions and contradictions of one condition tree."""
    found: list[Diagnostic] = []
    for leaf, path in leaves_with_paths(cond, base):
        problem = field_problem(leaf.field, place, steps)
        if problem is not None:
            found.append(loaded.at((*path, "field"), problem))
        if leaf.matches is not None:
            found.extend(_regex_problem(loaded, leaf.matches, (*path, "matches")))
    for block, path in _all_blocks(cond, base):
        found.extend(_contradictions(loaded, block, path))
    return found


def check_event_path(loaded: LoadedRunbook, field: str, path: Path) -> list[Diagnostic]:
    """A bare event path (detection.group_by entries)."""
    problem = field_problem(field, "event", None)
    return [] if problem is None else [loaded.at(path, problem)]


def field_problem(field: str, place: Place, steps: StepScope | None) -> str | None:
    """Why ``field`` cannot be read at ``place``, or None when it can."""
    head, _, rest = field.partition(".")
    if head == "incident" and place != "event":
        ok = _incident_ok(rest)
    elif head == "alert" and place == "step":
        ok = is_known_path(rest)
    elif head == "steps" and place == "step" and steps is not None:
        step_id, _, attr = rest.partition(".")
        unseen = steps.problem("condition", step_id)
        if unseen is not None:
            return unseen
        ok = attr in STEP_FIELDS or (attr.startswith("result.") and len(attr) > len("result."))
    elif head == "result" and place == "expect":
        ok = bool(rest)
    else:
        ok = place in ("event", "raise") and is_known_path(field)
    if ok:
        return None
    if place == "step" and is_known_path(field):
        # a step runs after the event is gone; the event that opened the incident is `alert`
        hint = f" (did you mean {'alert.' + field!r}?)"
    else:
        hint = did_you_mean(field, _candidates(field, place, steps))
    return f"unknown field {field!r}{hint}; {_HELP[place]}"


def _incident_ok(rest: str) -> bool:
    sub, dot, key = rest.partition(".")
    return (sub in INCIDENT_FIELDS and not dot) or (sub in INCIDENT_MAPS and bool(key))


def _tail(path: str, skip: int) -> str:
    """The part of a dotted path after its first ``skip`` parts, or X (a placeholder key)."""
    parts = path.split(".", skip)
    return parts[skip] if len(parts) > skip and parts[skip] else "X"


def _candidates(field: str, place: Place, steps: StepScope | None) -> list[str]:
    """Every valid path at ``place``, with the author's own key filled in for the free parts,
    so that the closest one makes a useful suggestion."""
    events = [*EVENT_FIELDS, *(f"{m}.{_tail(field, 1)}" for m in EVENT_MAPS)]
    incident = [f"incident.{f}" for f in INCIDENT_FIELDS] + [
        f"incident.{m}.{_tail(field, 2)}" for m in INCIDENT_MAPS
    ]
    if place == "event":
        return events
    if place == "raise":
        return events + incident
    if place == "expect":
        # `status` for `result.status` is the likely slip: offer the author's path under result
        own = field if field.partition(".")[0] not in ("result", "incident") else _tail(field, 1)
        return [f"result.{own}", *incident]
    alert_rest = field.partition(".")[2]
    alerts = [*(f"alert.{f}" for f in EVENT_FIELDS)]
    alerts += [f"alert.{m}.{_tail(alert_rest, 1)}" for m in EVENT_MAPS]
    visible = steps.visible if steps is not None else ()
    step_paths = [
        f"steps.{sid}.{attr}"
        for sid in visible
        for attr in (*STEP_FIELDS, f"result.{_tail(field, 3)}")
    ]
    return incident + alerts + step_paths


def _regex_problem(loaded: LoadedRunbook, pattern: str, path: Path) -> list[Diagnostic]:
    try:
        re.compile(pattern)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        return [loaded.at(path, f"bad regular expression {pattern!r}: {exc.msg}{where}")]
    return []


def _all_blocks(cond: Condition, path: Path) -> Iterator[tuple[All, Path]]:
    if isinstance(cond, Not):
        yield from _all_blocks(cond.not_, (*path, "not"))
    elif isinstance(cond, All | AnyOf):
        if isinstance(cond, All):
            yield cond, path
        key = "all" if isinstance(cond, All) else "any"
        children = cond.all if isinstance(cond, All) else cond.any
        for i, child in enumerate(children):
            yield from _all_blocks(child, (*path, key, i))


def _kind(value: Scalar) -> str:
    """Values of one kind compare directly; across kinds (5 and "5.0") both may still hold."""
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "text"


def _contradictions(loaded: LoadedRunbook, block: All, path: Path) -> list[Diagnostic]:
    first: dict[tuple[str, str], Scalar] = {}
    found: list[Diagnostic] = []
    for child in block.all:
        if not isinstance(child, Leaf) or child.eq is None:
            continue
        key = (child.field, _kind(child.eq))
        seen = first.setdefault(key, child.eq)
        if seen != child.eq:
            found.append(
                loaded.at(
                    (*path, "all"),
                    f"condition can never hold: field {child.field!r} cannot equal both "
                    f"{seen!r} and {child.eq!r}",
                    key=True,
                )
            )
    return found
