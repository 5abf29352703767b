"""The Python reading of conditions: same semantics as the compiled rules, plus explanations.

Used where a condition is checked against one document outside durable_rules (a step's `when`,
a verify `expect`, the ``for`` hold test) and to explain why an event started nothing. A property
test checks that this evaluator and the compiled durable_rules rules agree on random input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from runbookd.engine.lang.conditions import All, AnyOf, Condition, Leaf, Not, describe
from runbookd.engine.projection import as_number, as_text

Lookup = Callable[[str], Any]


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _convert(literal: Any, raw: Any) -> Any:
    return as_number(raw) if _is_number(literal) else as_text(raw)


def _literal(literal: Any) -> Any:
    return float(literal) if _is_number(literal) else as_text(literal)


def leaf_holds(leaf: Leaf, lookup: Lookup) -> bool:
    raw = lookup(leaf.field)
    op, operand = leaf.op, leaf.operand
    if op == "exists":
        return (raw is not None) == bool(operand)
    if raw is None:
        return False
    if op == "matches":
        return _regex(operand).fullmatch(as_text(raw) or "") is not None
    if op in ("gt", "ge", "lt", "le"):
        number = as_number(raw)
        if number is None:
            return False
        limit = float(operand)
        return {
            "gt": number > limit,
            "ge": number >= limit,
            "lt": number < limit,
            "le": number <= limit,
        }[op]
    values = operand if op in ("in", "not_in") else [operand]
    value = _convert(values[0], raw)
    if value is None:
        return False
    equal = any(value == _literal(v) for v in values)
    return equal if op in ("eq", "in") else not equal


def holds(cond: Condition, lookup: Lookup) -> bool:
    if isinstance(cond, Leaf):
        return leaf_holds(cond, lookup)
    if isinstance(cond, Not):
        return not holds(cond.not_, lookup)
    if isinstance(cond, All):
        return all(holds(c, lookup) for c in cond.all)
    return any(holds(c, lookup) for c in cond.any)


@dataclass(frozen=True)
class Miss:
    """One leaf that decided a condition was false, with the value it saw."""

    test: str
    actual: Any

    def __str__(self) -> str:
        seen = "absent" if self.actual is None else repr(self.actual)
        return f"{self.test} (was {seen})"


def explain(cond: Condition, lookup: Lookup) -> tuple[float, list[Miss]]:
    """How close ``cond`` came to holding: (fraction of deciding leaves true, the misses)."""
    if isinstance(cond, Leaf):
        if leaf_holds(cond, lookup):
            return 1.0, []
        return 0.0, [Miss(describe(cond), lookup(cond.field))]
    if isinstance(cond, Not):
        if holds(cond, lookup):
            return 1.0, []
        return 0.0, [Miss(describe(cond), None)]
    parts = [explain(c, lookup) for c in (cond.all if isinstance(cond, All) else cond.any)]
    if isinstance(cond, AnyOf):
        best = max(parts, key=lambda p: p[0])
        return best if best[0] < 1.0 else (1.0, [])
    score = sum(p[0] for p in parts) / len(parts)
    return score, [miss for _, misses in parts for miss in misses]


Known = Callable[[str], bool]


def holds_if_known(cond: Condition, lookup: Lookup, known: Known) -> bool | None:
    """``holds`` when only some fields are known: True, False, or None for "cannot tell".

    A leaf on a field ``known`` rejects is undecided; ``all``/``any``/``not`` combine the three
    values as Kleene's logic does, so an undecided leaf only matters where it could change the
    outcome (``any`` with one true branch holds whatever the others are). Used by
    ``runbookd coverage``, which knows a rule's name and static labels but not the labels its
    series will carry at run time. With every field known it is exactly ``holds``.
    """
    if isinstance(cond, Leaf):
        return leaf_holds(cond, lookup) if known(cond.field) else None
    if isinstance(cond, Not):
        inner = holds_if_known(cond.not_, lookup, known)
        return None if inner is None else not inner
    children = [
        holds_if_known(c, lookup, known) for c in (cond.all if isinstance(cond, All) else cond.any)
    ]
    decisive = isinstance(cond, AnyOf)  # any: one True decides; all: one False decides
    if decisive in children:
        return decisive
    return None if None in children else not decisive
