"""The compiler: a pure function from a runbook to durable_rules ruleset definitions.

Per runbook, two rulesets under a versioned name (``rb.<id>@<hash>``):

* ``detect`` -- one rule per trigger, priority = declaration order. ``match``, ``count``, ``for``
  and ``absent`` triggers are single-event rules (their windows are kept by the runtime);
  ``correlate`` triggers are a two-alias join on the incident key (``ikey``), so the two signals
  must belong to the same incident.
* ``lifecycle`` -- the ``raise`` rules and the resolution condition, posted only events whose
  incident is open, with ``incident.*`` facts projected beside the event's own fields.

Rules fire pure actions named ``<ruleset>|<role>|<index>``; the adapter turns them into firings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from runbookd.engine.lang.conditions import All, AnyOf, Condition, Leaf, Not, mentions
from runbookd.engine.lang.model import Runbook, Trigger
from runbookd.engine.projection import Projection, as_text

KEY_FIELD = "ikey"
SEQ_FIELD = "seq"
#: Every posted document carries ``t: "e"`` and every rule tests it first. A rule made only of
#: negative tests (``$nex``) otherwise matches the library's own state messages and loops forever
#: inside ``post()`` (found while building this compiler; see docs/decisions.md).
ANCHOR_FIELD = "t"
ANCHOR: dict[str, str] = {ANCHOR_FIELD: "e"}
FIRING_ONLY = Leaf(field="status", eq="firing")

Json = dict[str, Any]


@dataclass(frozen=True)
class RulesetDef:
    name: str
    rules: Json
    projection: Projection

    def definition(self) -> Json:
        return {self.name: self.rules}


@dataclass(frozen=True)
class CompiledRunbook:
    runbook: Runbook
    name: str
    #: one ruleset per trigger, in trigger order (see compile_runbook for why)
    triggers: tuple[RulesetDef, ...]
    lifecycle: RulesetDef | None
    #: alert/event names that can start this runbook, or None when any name can
    names: frozenset[str] | None

    def rulesets(self) -> list[RulesetDef]:
        return [*self.triggers] + ([self.lifecycle] if self.lifecycle else [])


def action_name(ruleset: str, role: str, index: int) -> str:
    return f"{ruleset}|{role}|{index}"


def parse_action_name(name: str) -> tuple[str, str, int]:
    ruleset, role, index = name.rsplit("|", 2)
    return ruleset, role, int(index)


def ruleset_name(runbook: Runbook) -> str:
    digest = hashlib.sha256(
        json.dumps(runbook.model_dump(mode="json", by_alias=True), sort_keys=True).encode()
    ).hexdigest()[:10]
    return f"rb.{runbook.id}@{digest}"


def trigger_conditions(trigger: Trigger) -> list[Condition]:
    """The event conditions of a trigger; firing-only unless the author tests status."""
    single = trigger.match if trigger.match is not None else trigger.absent
    raw = trigger.correlate if trigger.correlate is not None else [single] if single else []
    out: list[Condition] = []
    for cond in raw:
        out.append(cond if mentions(cond, "status") else All(all=[FIRING_ONLY, cond]))
    return out


def compile_runbook(runbook: Runbook) -> CompiledRunbook:
    """One ruleset per trigger. durable_rules fires at most one rule per message in a ruleset and
    the firing consumes the message, so in a shared ruleset a `match` trigger would take the
    event that a `correlate` trigger needed as its pending first half (found with the 10.3
    runbook). Separate rulesets let every trigger see every event, each with its own window."""
    name = ruleset_name(runbook)
    rulesets = []
    for index, trigger in enumerate(runbook.detection.triggers):
        projection = Projection()
        conds = trigger_conditions(trigger)
        rule: Json = {"run": action_name(name, "trigger", index)}
        if len(conds) == 1:
            rule["all"] = [{"m": compile_rule_condition(conds[0], projection)}]
        else:
            first, second = (compile_rule_condition(c, projection) for c in conds)
            # The join goes FIRST: durable_rules 2.0.28 silently drops a join test that follows a
            # nested $and/$or, and then pairs halves of different keys in the same shard.
            join = {KEY_FIELD: {"a": KEY_FIELD}}
            rule["all"] = [{"a": first}, {"b": {"$and": [join, second]}}]
        rulesets.append(RulesetDef(f"{name}/t{index}", {"t": rule}, projection))
    return CompiledRunbook(
        runbook, name, tuple(rulesets), _lifecycle(runbook, name), _names(runbook)
    )


def _lifecycle(runbook: Runbook, name: str) -> RulesetDef | None:
    projection = Projection()
    rules: Json = {}
    for index, rule in enumerate(runbook.detection.raise_):
        rules[f"r{index}"] = {
            "pri": index,
            "all": [{"m": compile_rule_condition(rule.when, projection)}],
            "run": action_name(name, "raise", index),
        }
    if runbook.resolution.when is not None:
        rules["recover"] = {
            "pri": len(rules),
            "all": [{"m": compile_rule_condition(runbook.resolution.when, projection)}],
            "run": action_name(name, "recover", 0),
        }
    return RulesetDef(f"{name}/lifecycle", rules, projection) if rules else None


def _names(runbook: Runbook) -> frozenset[str] | None:
    """Names an event must have to matter to this runbook, when every trigger pins the name.

    Used to route events: most alerts concern a handful of runbooks, and posting only to those
    keeps the engine's cost independent of the library's size.
    """
    names: set[str] = set()
    for trigger in runbook.detection.triggers:
        for cond in trigger_conditions(trigger):
            pinned = _pinned_names(cond)
            if pinned is None:
                return None
            names |= pinned
    return frozenset(names)


def _pinned_names(cond: Condition) -> set[str] | None:
    if isinstance(cond, Leaf):
        # Only `name`: a generic event's name need not equal a labels.alertname it carries.
        if cond.field == "name" and cond.op in ("eq", "in"):
            values = cond.operand if cond.op == "in" else [cond.operand]
            return {as_text(v) or "" for v in values}
        return None
    if isinstance(cond, All):
        found = [p for p in (_pinned_names(c) for c in cond.all) if p is not None]
        return set.intersection(*found) if found else None
    if isinstance(cond, AnyOf):
        parts = [_pinned_names(c) for c in cond.any]
        if any(p is None for p in parts):
            return None
        return set().union(*[p for p in parts if p is not None])
    return None


# --- conditions -> durable JSON ---------------------------------------------------------------


def _slot_for(leaf: Leaf, value: Any, projection: Projection) -> tuple[str, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return projection.slot(leaf.field, "number"), float(value)
    return projection.slot(leaf.field, "text"), as_text(value)


def compile_rule_condition(cond: Condition, projection: Projection) -> Json:
    """A whole rule condition: the anchor test, then the condition."""
    return {"$and": [ANCHOR, compile_condition(cond, projection)]}


def compile_condition(cond: Condition, projection: Projection, negate: bool = False) -> Json:
    """Condition tree -> durable expression, with ``not`` pushed down to the leaves."""
    if isinstance(cond, Not):
        return compile_condition(cond.not_, projection, not negate)
    if isinstance(cond, All | AnyOf):
        children = cond.all if isinstance(cond, All) else cond.any
        parts = [compile_condition(c, projection, negate) for c in children]
        conj = isinstance(cond, All) != negate  # De Morgan
        if len(parts) == 1:
            return parts[0]
        return {"$and" if conj else "$or": parts}
    return _leaf(cond, projection, negate)


_COMPARE = {"gt": "$gt", "ge": "$gte", "lt": "$lt", "le": "$lte"}
_OPPOSITE = {"gt": "le", "ge": "lt", "lt": "ge", "le": "gt"}


def _leaf(leaf: Leaf, projection: Projection, negate: bool) -> Json:
    op, operand = leaf.op, leaf.operand
    if op == "exists":
        slot = projection.slot(leaf.field, "present")
        present = bool(operand) != negate
        return {"$ex" if present else "$nex": {slot: 1}}
    if op == "matches":
        slot = projection.slot(leaf.field, "regex", operand)
        positive: Json = {slot: True}
        negative: Json = {slot: False}
    elif op in ("eq", "ne"):
        slot, value = _slot_for(leaf, operand, projection)
        positive, negative = {slot: value}, {"$neq": {slot: value}}
        if op == "ne":
            positive, negative = negative, positive
    elif op in ("gt", "ge", "lt", "le"):
        slot = projection.slot(leaf.field, "number")
        positive = {_COMPARE[op]: {slot: float(operand)}}
        negative = {_COMPARE[_OPPOSITE[op]]: {slot: float(operand)}}
    else:  # in / not_in: the language keeps every value of one list the same type
        slot, _ = _slot_for(leaf, operand[0], projection)
        values = [_slot_for(leaf, v, projection)[1] for v in operand]
        equal: list[Json] = [{slot: v} for v in values]
        differ: list[Json] = [{"$neq": {slot: v}} for v in values]
        any_equal: Json = equal[0] if len(equal) == 1 else {"$or": equal}
        all_differ: Json = differ[0] if len(differ) == 1 else {"$and": differ}
        positive, negative = (any_equal, all_differ) if op == "in" else (all_differ, any_equal)
    if not negate:
        return positive
    # A missing (or unconvertible) field fails every positive test, so the negation holds there.
    return {"$or": [{"$nex": {slot: 1}}, negative]}
