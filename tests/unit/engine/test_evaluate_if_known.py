"""``holds_if_known``: what coverage may say about a condition before the event exists.

The property that makes its answers safe to print: whenever it decides (True or False), every
event that agrees on the known fields gets that same answer from ``holds``; with every field
known it is ``holds``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from runbookd.engine.evaluate import holds, holds_if_known
from runbookd.engine.lang.conditions import Condition

FIELDS = ["labels.a", "labels.b", "labels.c"]
VALUES = ["x", "y", None]
_adapter: TypeAdapter[Condition] = TypeAdapter(Condition)


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    field = st.sampled_from(FIELDS)
    return st.one_of(
        st.builds(lambda f, v: {"field": f, "eq": v}, field, st.sampled_from(["x", "y"])),
        st.builds(lambda f, v: {"field": f, "exists": v}, field, st.booleans()),
        st.builds(lambda f: {"field": f, "matches": "x|z"}, field),
    )


def _tree() -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        _leaf(),
        lambda kids: st.one_of(
            st.builds(lambda c: {"all": c}, st.lists(kids, min_size=1, max_size=3)),
            st.builds(lambda c: {"any": c}, st.lists(kids, min_size=1, max_size=3)),
            st.builds(lambda c: {"not": c}, kids),
        ),
        max_leaves=6,
    )


def _doc(values: list[str | None]) -> dict[str, str]:
    return {f: v for f, v in zip(FIELDS, values, strict=True) if v is not None}


docs = st.lists(st.sampled_from(VALUES), min_size=3, max_size=3)


@given(_tree(), docs, docs, st.sets(st.sampled_from(FIELDS)))
def test_a_decided_answer_holds_for_every_event_that_agrees(
    raw: dict[str, Any], seen: list[str | None], other: list[str | None], known: set[str]
) -> None:
    cond = _adapter.validate_python(raw)
    doc = _doc(seen)
    verdict = holds_if_known(cond, doc.get, known.__contains__)
    # Any event equal on the known fields, whatever the unknown ones hold.
    completion = _doc([s if f in known else o for f, s, o in zip(FIELDS, seen, other, strict=True)])
    if verdict is not None:
        assert holds(cond, completion.get) is verdict


@given(_tree(), docs)
def test_with_every_field_known_it_is_holds(raw: dict[str, Any], seen: list[str | None]) -> None:
    cond = _adapter.validate_python(raw)
    doc = _doc(seen)
    assert holds_if_known(cond, doc.get, lambda _: True) is holds(cond, doc.get)


def test_one_true_branch_of_any_decides_without_the_unknown_one() -> None:
    cond = _adapter.validate_python(
        {"any": [{"field": "name", "eq": "A"}, {"field": "labels.env", "eq": "prod"}]}
    )
    known = {"name"}.__contains__
    assert holds_if_known(cond, {"name": "A"}.get, known) is True
    assert holds_if_known(cond, {"name": "B"}.get, known) is None
