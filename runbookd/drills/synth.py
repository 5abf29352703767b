"""Find documents that satisfy a condition: the synthetic signals and answers of a drill.

A condition is put in negation normal form (``not`` pushed down to the leaves, ``in`` spread into
alternatives), its alternatives are enumerated as conjunctions of literals, and each field of a
conjunction gets a value chosen from candidates the literals suggest (their operands, numbers
around their bounds, a string generated from a regular expression). Every candidate is tested
with the engine's own evaluator, and so is the finished document, so a solution is never wrong;
when none is found the reason names the field and the literals that could not be met together.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runbookd.engine.evaluate import holds, leaf_holds
from runbookd.engine.lang.conditions import All, AnyOf, Condition, Leaf, Not
from runbookd.engine.projection import as_number, as_text

#: Event fields that every event has: they can never be absent.
ALWAYS_PRESENT = frozenset({"kind", "name", "status", "source"})
_CHOICES: dict[str, tuple[str, ...]] = {
    "kind": ("event", "alert"),
    "status": ("firing", "resolved"),
}
#: How many alternatives of one condition are tried before giving up (the compiler refuses
#: conditions with more than 256 alternatives, so a valid runbook never needs more).
MAX_ALTERNATIVES = 512


@dataclass(frozen=True)
class Literal:
    leaf: Leaf
    positive: bool

    def holds_for(self, value: Any) -> bool:
        return leaf_holds(self.leaf, lambda _path: value) == self.positive

    def __str__(self) -> str:
        op, operand = self.leaf.op, self.leaf.operand
        text = f"{self.leaf.field} {op} {operand!r}"
        return text if self.positive else f"not ({text})"


class Unsatisfiable(Exception):
    """No document satisfies the condition; the message says which field failed."""


# --- normal form ----------------------------------------------------------------------------

_Node = Literal | tuple[str, list["_Node"]]


def _nnf(cond: Condition, positive: bool = True) -> _Node:
    if isinstance(cond, Not):
        return _nnf(cond.not_, not positive)
    if isinstance(cond, All | AnyOf):
        children = [_nnf(c, positive) for c in (cond.all if isinstance(cond, All) else cond.any)]
        conjunctive = isinstance(cond, All) == positive
        return ("and" if conjunctive else "or", children)
    if cond.op == "in" and positive:
        # Each listed value is an alternative of its own, so drills can try them in turn.
        return ("or", [Literal(Leaf(field=cond.field, eq=v), True) for v in cond.operand])
    return Literal(cond, positive)


def _alternatives(node: _Node) -> Iterator[list[Literal]]:
    if isinstance(node, Literal):
        yield [node]
        return
    kind, children = node
    if kind == "or":
        for child in children:
            yield from _alternatives(child)
        return

    def combine(i: int, acc: list[Literal]) -> Iterator[list[Literal]]:
        if i == len(children):
            yield acc
            return
        for part in _alternatives(children[i]):
            yield from combine(i + 1, acc + part)

    yield from combine(0, [])


# --- one field ------------------------------------------------------------------------------


def _coerce(path: str, value: Any) -> Any:
    """The value as the event would carry it at ``path``, or None when it cannot."""
    if value is None:
        return None
    if path in _CHOICES:
        return value if value in _CHOICES[path] else None
    if path == "value":
        return as_number(value)
    if path in ("name", "source", "fingerprint") or path.startswith(("labels.", "annotations.")):
        return as_text(value)
    return value  # generic fields, connector results: numbers stay numbers


def _numbers_near(bounds: list[float]) -> list[float]:
    out: list[float] = []
    ordered = sorted(set(bounds))
    for b in ordered:
        out += [b, b + 1, b - 1, b + 0.5, b - 0.5, b * 2 + 1]
    out += [(a + b) / 2 for a, b in itertools.pairwise(ordered)]
    return out


def _candidates(path: str, literals: list[Literal], prefer: Any) -> list[Any]:
    raw: list[Any] = []
    bounds: list[float] = []
    for lit in literals:
        op, operand = lit.leaf.op, lit.leaf.operand
        if op in ("eq", "ne"):
            raw.append(operand)
            number = as_number(operand)
            if number is not None:
                bounds.append(number)
            else:
                raw.append(f"{operand}-other")
        elif op in ("in", "not_in"):
            raw += list(operand)
            raw.append("other")
            bounds += [n for n in (as_number(v) for v in operand) if n is not None]
        elif op in ("gt", "ge", "lt", "le"):
            bounds.append(float(operand))
        elif op == "matches":
            generated = example_for_regex(str(operand))
            if generated is not None:
                raw.append(generated)
    raw += _numbers_near(bounds)
    if path in _CHOICES:
        raw = list(_CHOICES[path]) + raw
    raw += [prefer, "drill", 1.0, 0.0]
    seen: list[Any] = []
    for value in raw:
        coerced = _coerce(path, value)
        if coerced is not None and coerced not in seen:
            seen.append(coerced)
    return seen


def _solve_field(path: str, literals: list[Literal], prefer: Any) -> tuple[bool, Any]:
    """(found, value); value None means the field is left out of the document."""
    needs_presence = path in ALWAYS_PRESENT or any(
        lit.positive and not (lit.leaf.op == "exists" and lit.leaf.operand is False)
        for lit in literals
    )
    if not needs_presence and all(lit.holds_for(None) for lit in literals):
        return True, None
    for value in _candidates(path, literals, prefer):
        if all(lit.holds_for(value) for lit in literals):
            return True, value
    return False, None


# --- whole documents ------------------------------------------------------------------------


def solutions(
    cond: Condition,
    *,
    pinned: Mapping[str, Any] | None = None,
    prefer: Mapping[str, Any] | None = None,
    only: str | None = None,
    limit: int = 4,
) -> list[dict[str, Any]]:
    """Up to ``limit`` different flat documents (path -> value) on which ``cond`` holds.

    ``pinned`` fixes fields (None: absent), e.g. the incident key shared with an earlier event;
    ``prefer`` gives the value to try first for a field; ``only`` restricts the solution to paths
    under a prefix (``steps.check.result.``), leaving literals on other paths to the run.
    Raises ``Unsatisfiable`` naming what could not be met.
    """
    pinned = dict(pinned or {})
    prefer = dict(prefer or {})
    found: list[dict[str, Any]] = []
    failures: list[str] = []
    for literals in itertools.islice(_alternatives(_nnf(cond)), MAX_ALTERNATIVES):
        if only is not None:
            literals = [lit for lit in literals if lit.leaf.field.startswith(only)]
        doc, problem = _solve_conjunction(literals, pinned, prefer)
        if doc is None:
            failures.append(problem)
            continue
        if only is None and not holds(cond, doc.get):
            failures.append("the combined values do not satisfy the condition")
            continue
        if doc not in found:
            found.append(doc)
            if len(found) >= limit:
                break
    if not found:
        reason = failures[0] if failures else "the condition has no alternatives"
        raise Unsatisfiable(reason)
    return found


def _solve_conjunction(
    literals: list[Literal], pinned: Mapping[str, Any], prefer: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str]:
    by_field: dict[str, list[Literal]] = {}
    for lit in literals:
        by_field.setdefault(lit.leaf.field, []).append(lit)
    doc: dict[str, Any] = {}
    for path, value in pinned.items():
        if not all(lit.holds_for(value) for lit in by_field.get(path, [])):
            wanted = "absent" if value is None else repr(value)
            tests = ", ".join(str(lit) for lit in by_field[path])
            return None, f"field {path!r} must be {wanted} (the incident key) but also: {tests}"
        if value is not None:
            doc[path] = value
    for path, lits in by_field.items():
        if path in pinned:
            continue
        ok, value = _solve_field(path, lits, prefer.get(path))
        if not ok:
            tests = ", ".join(str(lit) for lit in lits)
            return None, f"no value of field {path!r} satisfies: {tests}"
        if value is not None:
            doc[path] = value
    return doc, ""


# --- regular expressions --------------------------------------------------------------------


def example_for_regex(pattern: str) -> str | None:
    """A short string the pattern matches as a whole, or None when this generator cannot tell."""
    try:
        # re._parser is CPython's own parser of the syntax (sre_parse before 3.11); reading its
        # tree is the only exact way to follow every construct the engine accepts.
        from re import _parser  # type: ignore[attr-defined]

        tree = _parser.parse(pattern)
        text = _emit(tree, _parser)
    except Exception:  # an unusual construct: report "cannot generate" rather than crash
        return None
    return text if text is not None and re.fullmatch(pattern, text) else None


def _emit(tree: Any, p: Any) -> str | None:
    out: list[str] = []
    for op, arg in tree:
        piece = _emit_one(op, arg, p)
        if piece is None:
            return None
        out.append(piece)
    return "".join(out)


def _emit_one(op: Any, arg: Any, p: Any) -> str | None:
    if op is p.LITERAL:
        return chr(arg)
    if op is p.NOT_LITERAL:
        return "a" if chr(arg) != "a" else "b"
    if op is p.ANY:
        return "x"
    if op is p.AT:
        return ""
    if op is p.IN:
        return _emit_in(arg, p)
    if op is p.BRANCH:
        return _emit(arg[1][0], p)
    if op is p.SUBPATTERN:
        return _emit(arg[-1], p)
    if op in (p.MAX_REPEAT, p.MIN_REPEAT, getattr(p, "POSSESSIVE_REPEAT", None)):
        low, _high, sub = arg
        piece = _emit(sub, p)
        return None if piece is None else piece * max(low, 0)
    if op is p.CATEGORY:
        return _CATEGORY_EXAMPLES.get(str(arg).rsplit("_", 1)[-1].lower())
    return None


_CATEGORY_EXAMPLES = {"digit": "0", "word": "a", "space": " "}


def _emit_in(items: Any, p: Any) -> str | None:
    if items and items[0][0] is p.NEGATE:
        excluded = {chr(a) for op, a in items[1:] if op is p.LITERAL}
        return next(c for c in "axz0_" if c not in excluded)
    for op, arg in items:
        if op is p.LITERAL:
            return str(chr(arg))
        if op is p.RANGE:
            return chr(arg[0])
        if op is p.CATEGORY:
            return _CATEGORY_EXAMPLES.get(str(arg).rsplit("_", 1)[-1].lower())
    return None
