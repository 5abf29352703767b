"""Conditions: the one predicate language used by detection, `when`, verify and resolution.

A condition is a tree of ``all`` / ``any`` / ``not`` over leaves. A leaf names a ``field`` (a dotted
path such as ``labels.alertname``) and exactly one operator. Semantics (shared by the durable_rules
compiler and the Python evaluator, and tested to agree):

* a leaf on a field the event does not have is false -- except ``exists: false``;
* ``eq``/``ne``/``in``/``not_in`` compare numbers numerically when the literal is a number (label
  text like ``"500"`` is converted) and as text otherwise;
* ``gt``/``ge``/``lt``/``le`` are numeric; a value that is not a number does not match;
* ``matches`` is a Python regular expression matched against the whole value (anchored, as
  Prometheus and Alertmanager matchers are).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Scalar = str | int | float | bool

LEAF_OPS = ("eq", "ne", "gt", "ge", "lt", "le", "matches", "in", "not_in", "exists")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Leaf(_Strict):
    """``{field: labels.severity, eq: critical}`` -- one test on one field."""

    field: str = Field(description="Dotted path into the event, e.g. labels.alertname or value.")
    eq: Scalar | None = Field(None, description="Equal to (number or text).")
    ne: Scalar | None = Field(None, description="Present and not equal to.")
    gt: float | None = Field(None, description="Numerically greater than.")
    ge: float | None = Field(None, description="Numerically greater than or equal to.")
    lt: float | None = Field(None, description="Numerically less than.")
    le: float | None = Field(None, description="Numerically less than or equal to.")
    matches: str | None = Field(None, description="Python regular expression, whole-value match.")
    in_: list[Scalar] | None = Field(None, alias="in", description="One of these values.")
    not_in: list[Scalar] | None = Field(None, description="Present and none of these values.")
    exists: bool | None = Field(None, description="The field is present (true) or absent (false).")

    @model_validator(mode="after")
    def _one_operator(self) -> Leaf:
        used = self.operators()
        if len(used) != 1:
            names = ", ".join(LEAF_OPS)
            if not used:
                raise ValueError(f"condition on {self.field!r} needs one operator: {names}")
            raise ValueError(
                f"condition on {self.field!r} has {len(used)} operators ({', '.join(used)}); "
                "use one per condition and combine them with all/any"
            )
        for name, values in (("in", self.in_), ("not_in", self.not_in)):
            if values is None:
                continue
            if not values:
                raise ValueError(f"{name!r} on {self.field!r} needs at least one value")
            if len({_is_number(v) for v in values}) > 1:
                raise ValueError(
                    f"{name!r} on {self.field!r} mixes numbers and text; quote the numbers "
                    "to compare text, or use only numbers"
                )
        return self

    def operators(self) -> list[str]:
        return [op for op in LEAF_OPS if getattr(self, "in_" if op == "in" else op) is not None]

    @property
    def op(self) -> str:
        return self.operators()[0]

    @property
    def operand(self) -> Any:
        return getattr(self, "in_" if self.op == "in" else self.op)


def _is_number(value: Scalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class All(_Strict):
    """Every sub-condition holds."""

    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    """At least one sub-condition holds."""

    any: list[Condition] = Field(min_length=1)


class Not(_Strict):
    """The sub-condition does not hold."""

    not_: Condition = Field(alias="not")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "leaf"
    if isinstance(value, BaseModel):
        kinds: dict[type[BaseModel], str] = {All: "all", AnyOf: "any", Not: "not"}
        return kinds.get(type(value), "leaf")
    return "leaf"


Condition = Annotated[
    Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[Leaf, Tag("leaf")],
    Discriminator(_kind),
]

All.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


def leaves(cond: Condition) -> list[Leaf]:
    """Every leaf of a condition tree, in document order."""
    if isinstance(cond, Leaf):
        return [cond]
    if isinstance(cond, Not):
        return leaves(cond.not_)
    children = cond.all if isinstance(cond, All) else cond.any
    return [leaf for child in children for leaf in leaves(child)]


def leaves_with_paths(
    cond: Condition, path: tuple[str | int, ...]
) -> list[tuple[Leaf, tuple[str | int, ...]]]:
    """Leaves with their source path, for error positions."""
    if isinstance(cond, Leaf):
        return [(cond, path)]
    if isinstance(cond, Not):
        return leaves_with_paths(cond.not_, (*path, "not"))
    key = "all" if isinstance(cond, All) else "any"
    children = cond.all if isinstance(cond, All) else cond.any
    out: list[tuple[Leaf, tuple[str | int, ...]]] = []
    for i, child in enumerate(children):
        out.extend(leaves_with_paths(child, (*path, key, i)))
    return out


def mentions(cond: Condition, field: str) -> bool:
    return any(leaf.field == field for leaf in leaves(cond))


def describe(cond: Condition) -> str:
    """A compact human reading: ``labels.alertname == 'X' and value > 5``."""
    if isinstance(cond, Leaf):
        symbol = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
        if cond.op in symbol:
            return f"{cond.field} {symbol[cond.op]} {cond.operand!r}"
        if cond.op == "matches":
            return f"{cond.field} =~ {cond.operand!r}"
        if cond.op == "in":
            return f"{cond.field} in {cond.operand!r}"
        if cond.op == "not_in":
            return f"{cond.field} not in {cond.operand!r}"
        return f"{cond.field} {'exists' if cond.operand else 'is absent'}"
    if isinstance(cond, Not):
        return f"not ({describe(cond.not_)})"
    joiner = " and " if isinstance(cond, All) else " or "
    children = cond.all if isinstance(cond, All) else cond.any
    return joiner.join(
        f"({describe(c)})" if not isinstance(c, Leaf) else describe(c) for c in children
    )
