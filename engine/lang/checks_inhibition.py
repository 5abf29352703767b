"""Checks of ``detection.inhibited_by`` that need the whole library: the runbooks it names.

An inhibition names another runbook by id, so it can only be checked against the set of runbooks
loaded together (``runbookd check`` of a folder, the service's library). Refused, each at the
entry at fault:

* an id no loaded runbook has (with the closest one), or the runbook's own id;
* a fallback runbook on either side: the fallback only sees what no other runbook took, so it
  can neither explain another runbook's failures nor be explained by one;
* an ``equal`` entry that is not a ``labels.*`` path: the inhibiting side is an incident, and
  the labels are what an incident and an alert both have;
* a circle (A inhibited by B, B by A, or longer): whichever opened first would hide the other,
  so what pages would depend on which alert arrived first, not on the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runbookd.engine.lang.diagnostics import Diagnostic, did_you_mean
from runbookd.engine.lang.loader import LoadedRunbook


def check_inhibitions(loaded: Sequence[LoadedRunbook]) -> list[Diagnostic]:
    """Every problem of every runbook's ``inhibited_by``, given the runbooks loaded with it."""
    by_id: dict[str, LoadedRunbook] = {}
    for item in loaded:
        by_id.setdefault(item.runbook.id, item)
    found: list[Diagnostic] = []
    for item in loaded:
        found.extend(_entries(item, by_id))
    found.extend(_circles(by_id))
    return found


def _entries(item: LoadedRunbook, by_id: Mapping[str, LoadedRunbook]) -> list[Diagnostic]:
    rb = item.runbook
    found: list[Diagnostic] = []
    for i, entry in enumerate(rb.detection.inhibited_by):
        at = ("detection", "inhibited_by", i)
        other = by_id.get(entry.runbook)
        if entry.runbook == rb.id:
            found.append(item.at((*at, "runbook"), "a runbook cannot inhibit itself"))
        elif other is None:
            found.append(
                item.at(
                    (*at, "runbook"),
                    f"no runbook {entry.runbook!r} is loaded"
                    + did_you_mean(entry.runbook, [r for r in by_id if r != rb.id]),
                )
            )
        elif other.runbook.detection.fallback:
            found.append(
                item.at(
                    (*at, "runbook"), f"{entry.runbook!r} is a fallback runbook; it cannot inhibit"
                )
            )
        elif rb.detection.fallback:
            found.append(item.at((*at, "runbook"), "a fallback runbook cannot be inhibited"))
        for j, path in enumerate(entry.equal):
            name = path.removeprefix("labels.")
            if name == path or not name:
                found.append(
                    item.at(
                        (*at, "equal", j),
                        f"equal takes labels.* paths (like labels.instance), not {path!r}",
                    )
                )
    return found


def _circles(by_id: Mapping[str, LoadedRunbook]) -> list[Diagnostic]:
    """One diagnostic per runbook on a circle, at its entry that leads around it."""
    found: list[Diagnostic] = []
    for rid, item in by_id.items():
        for i, entry in enumerate(item.runbook.detection.inhibited_by):
            path = _path_back(entry.runbook, rid, by_id)
            if path is not None:
                circle = " -> ".join([rid, *path])
                found.append(
                    item.at(
                        ("detection", "inhibited_by", i, "runbook"),
                        f"inhibitions go round in a circle ({circle} inhibited by each next): "
                        "whichever opened first would hide the others; remove one of them",
                    )
                )
    return found


def _path_back(start: str, goal: str, by_id: Mapping[str, LoadedRunbook]) -> list[str] | None:
    """The runbooks from ``start`` along inhibited_by edges to ``goal``, or None (depth first,
    in declaration order, so the message is the same on every run)."""
    if start == goal:
        return None  # the self-reference has its own message
    seen: set[str] = set()
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    while stack:
        node, trail = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        item = by_id.get(node)
        if item is None:
            continue
        for entry in reversed(item.runbook.detection.inhibited_by):
            if entry.runbook == goal:
                return [*trail, goal]
            if entry.runbook not in seen:
                stack.append((entry.runbook, [*trail, entry.runbook]))
    return None
