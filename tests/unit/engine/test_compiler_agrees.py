"""The compiled durable_rules conditions and the Python evaluator must agree on every input."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from runbookd.engine.compiler import ANCHOR, SEQ_FIELD, compile_rule_condition
from runbookd.engine.evaluate import holds
from runbookd.engine.lang.conditions import Condition
from runbookd.engine.projection import Projection
from runbookd.engine.rules import Matcher

FIELDS = ["labels.a", "labels.n", "value", "name"]
TEXT = st.sampled_from(["x", "y", "xz", "500", "5.0", ""])
NUMBER = st.sampled_from([0, 5, 5.5, 500, -1])


def leaf() -> st.SearchStrategy[dict[str, Any]]:
    field = st.sampled_from(FIELDS)
    return st.one_of(
        st.builds(lambda f, v: {"field": f, "eq": v}, field, st.one_of(TEXT, NUMBER)),
        st.builds(lambda f, v: {"field": f, "ne": v}, field, st.one_of(TEXT, NUMBER)),
        st.builds(
            lambda f, op, v: {"field": f, op: v},
            field,
            st.sampled_from(["gt", "ge", "lt", "le"]),
            NUMBER,
        ),
        st.builds(
            lambda f, p: {"field": f, "matches": p}, field, st.sampled_from(["x.*", "[0-9]+", "y"])
        ),
        st.builds(
            lambda f, v: {"field": f, "in": v}, field, st.lists(TEXT, min_size=1, max_size=3)
        ),
        st.builds(
            lambda f, v: {"field": f, "not_in": v}, field, st.lists(NUMBER, min_size=1, max_size=3)
        ),
        st.builds(lambda f, v: {"field": f, "exists": v}, field, st.booleans()),
    )


conditions = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
    ),
    max_leaves=5,
)
events = st.dictionaries(
    st.sampled_from(FIELDS), st.one_of(TEXT, NUMBER.map(float), st.just("abc")), max_size=4
)
ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)
MATCHER = Matcher()
_counter = iter(range(10**9))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=conditions, docs=st.lists(events, min_size=1, max_size=6))
def test_durable_and_python_agree(raw: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    cond = ADAPTER.validate_python(raw)
    projection = Projection()
    name = f"agree{next(_counter)}"
    MATCHER.load(
        {name: {"r": {"all": [{"m": compile_rule_condition(cond, projection)}], "run": name}}}
    )
    try:
        for doc in docs:
            posted = projection.project(doc.get) | ANCHOR | {SEQ_FIELD: next(_counter)}
            fired = bool(MATCHER.post(name, posted, "s0").firings)
            assert fired == holds(cond, doc.get), (raw, doc, posted)
    finally:
        MATCHER.unload(name)
