"""Property: any valid runbook the language admits checks clean, compiles, loads into
durable_rules, and opens an incident when -- and only when -- its trigger is satisfied.

The generator covers every trigger kind, grouping, escalation levels, steps with the optional
rails, resolution and post-mortem options. Conditions are conjunctions of equality leaves so that
the test can build an event that satisfies them (and one that does not) without a solver.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbookd.connectors.registry import load_specs
from runbookd.engine.checks import check_runbook
from runbookd.engine.compiler import compile_runbook
from runbookd.engine.events import Event
from runbookd.engine.lang.loader import load_text
from runbookd.engine.rules import Matcher, validate_in_child
from runbookd.engine.simulator import Simulator

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SPECS = load_specs(include_plugins=False)
ALERT_NAMES = ["DiskFull", "ReplicationLag", "WafSqlInjection", "PaymentErrors"]
LABEL_KEYS = ["instance", "channel", "region"]
LABEL_VALUES = ["a", "b", "db-1", "eu"]
MINUTES = st.integers(min_value=1, max_value=30)


def _eq_conjunction(name: str, labels: dict[str, str]) -> dict[str, Any]:
    leaves: list[dict[str, Any]] = [{"field": "name", "eq": name}]
    leaves += [{"field": f"labels.{k}", "eq": v} for k, v in sorted(labels.items())]
    return leaves[0] if len(leaves) == 1 else {"all": leaves}


@st.composite
def signals(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    name = draw(st.sampled_from(ALERT_NAMES))
    labels = draw(
        st.dictionaries(st.sampled_from(LABEL_KEYS[1:]), st.sampled_from(LABEL_VALUES), max_size=2)
    )
    return name, labels


@st.composite
def triggers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["match", "count", "for", "correlate", "absent"]))
    name, labels = draw(signals())
    trigger: dict[str, Any] = {"id": f"{kind}-trigger"}
    if kind == "correlate":
        other = draw(st.sampled_from([n for n in ALERT_NAMES if n != name]))
        trigger["correlate"] = [_eq_conjunction(name, labels), _eq_conjunction(other, labels)]
        trigger["within"] = f"{draw(MINUTES)}m"
    elif kind == "absent":
        trigger["absent"] = _eq_conjunction(name, labels)
        trigger["within"] = f"{draw(MINUTES)}m"
    else:
        trigger["match"] = _eq_conjunction(name, labels)
        if kind == "count":
            trigger["count"] = draw(st.integers(min_value=2, max_value=5))
            trigger["within"] = f"{draw(MINUTES)}m"
        elif kind == "for":
            trigger["for"] = f"{draw(MINUTES)}m"
    return trigger


@st.composite
def steps(draw: st.DrawFn, index: int) -> dict[str, Any]:
    step: dict[str, Any] = {
        "id": f"step{index}",
        "connector": "log",
        "params": {"message": f"step {index} for {{{{ incident.id }}}}"},
    }
    if draw(st.booleans()):
        step["on_failure"] = {
            "retries": draw(st.integers(0, 3)),
            "backoff": f"{draw(MINUTES)}s",
            "then": draw(st.sampled_from(["escalate", "continue", "abort"])),
        }
    if draw(st.booleans()):
        step["limits"] = {
            "cooldown": f"{draw(MINUTES)}m",
            "max_concurrent": draw(st.integers(1, 3)),
            "rate": {"max": draw(st.integers(1, 5)), "per": "1h"},
        }
    if index > 0 and draw(st.booleans()):
        step["when"] = {"field": "steps.step0.outcome", "eq": "ok"}
    return step


@st.composite
def runbooks(draw: st.DrawFn) -> dict[str, Any]:
    trigger = draw(triggers())
    doc: dict[str, Any] = {
        "runbook": 1,
        "id": "generated",
        "title": "Generated runbook",
        "version": draw(st.integers(1, 9)),
        "team": "sre",
        "section": draw(st.sampled_from(["3.3", "10.3", "11.2", "4"])),
        "tags": draw(st.lists(st.sampled_from(["db", "web", "pay"]), max_size=2, unique=True)),
        "classification": {
            "nature": draw(st.sampled_from(["infrastructure", "business", "security", "external"])),
            "scope": draw(st.sampled_from(["local", "global"])),
            "complexity": draw(st.sampled_from(["simple", "complex"])),
        },
        "detection": {
            "group_by": draw(st.sampled_from([[], ["labels.instance"]])),
            "triggers": [trigger],
        },
    }
    if draw(st.booleans()):
        levels = draw(st.integers(1, 3))
        repeat = draw(st.integers(0, 2))
        doc["escalation"] = {
            "levels": [
                {
                    "id": f"level{i}",
                    "connector": "log",
                    "params": {"message": f"level {i}: {{{{ incident.title }}}}"},
                    # Only the last level may go without a deadline (else later ones never
                    # fire), and only when the escalation does not repeat.
                    **({"ack_within": f"{draw(MINUTES)}m"} if i < levels - 1 or repeat else {}),
                }
                for i in range(levels)
            ],
            "repeat": repeat,
        }
    doc["handling"] = {"steps": [draw(steps(i)) for i in range(draw(st.integers(0, 3)))]}
    doc["resolution"] = {
        "on_alerts_resolved": draw(st.booleans()),
        **({"quiet_for": f"{draw(MINUTES)}m"} if draw(st.booleans()) else {}),
    }
    return doc


def _events(trigger: dict[str, Any], instance: str, at: datetime) -> list[Event]:
    """Events that satisfy the trigger's event conditions, in arrival order."""
    conds = trigger.get("correlate") or [trigger.get("match") or trigger.get("absent")]
    out = []
    for cond in conds:
        leaves = cond.get("all", [cond])
        values = {leaf["field"]: leaf["eq"] for leaf in leaves}
        labels = {k.removeprefix("labels."): v for k, v in values.items() if k != "name"}
        out.append(
            Event(name=values["name"], at=at, kind="alert", labels={**labels, "instance": instance})
        )
    return out * int(trigger.get("count", 1))


def _simulate(doc: dict[str, Any], satisfy: bool) -> Simulator:
    loaded, problems = load_text(yaml.safe_dump(doc, sort_keys=False), "generated.yaml")
    assert loaded is not None and not problems, [str(p) for p in problems]
    sim = Simulator([compile_runbook(loaded.runbook)], START)
    trigger = doc["detection"]["triggers"][0]
    if "absent" in trigger:
        # One heartbeat makes a grouped key known; then silence (satisfy) or a steady beat.
        sim.ingest(_events(trigger, "db-1", START))
        if not satisfy:
            # Half a minute early every time: a heartbeat exactly at the deadline is late.
            every = int(trigger["within"].removesuffix("m")) * 60 - 30
            for second in range(0, 90 * 60, every):
                sim.at(timedelta(seconds=second))
                sim.ingest(_events(trigger, "db-1", sim.now))
        sim.at(timedelta(minutes=90))
        return sim
    events = _events(trigger, "db-1", START)
    if not satisfy:
        # One signal short: a correlation half, a count one short, or a for that resolves early.
        events = events[:-1] if len(events) > 1 else []
        if "for" in trigger:
            events = _events(trigger, "db-1", START)
            sim.ingest(events)
            sim.at(timedelta(seconds=30))
            events = [
                Event(name=e.name, at=sim.now, kind="alert", status="resolved", labels=e.labels)
                for e in events
            ]
    sim.ingest(events)
    sim.at(timedelta(minutes=90))
    return sim


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=runbooks())
def test_generated_runbook_checks_compiles_and_opens_an_incident(doc: dict[str, Any]) -> None:
    loaded, problems = load_text(yaml.safe_dump(doc, sort_keys=False), "generated.yaml")
    assert loaded is not None and not problems, [str(p) for p in problems]
    assert check_runbook(loaded, SPECS) == []

    compiled = compile_runbook(loaded.runbook)
    matcher = Matcher()
    for ruleset in compiled.rulesets():
        matcher.load(ruleset.definition())
        assert ruleset.name in matcher.loaded

    sim = _simulate(doc, satisfy=True)
    opened = [c for c in sim.timeline if c.kind == "open_incident"]
    assert len(opened) >= 1, [c.summary() for c in sim.timeline]
    kinds = [c.kind for c in sim.timeline]
    if "escalation" in doc:
        assert "notify" in kinds
    first_steps = [s for s in doc["handling"]["steps"] if "when" not in s][:1]
    if first_steps:
        ran = [c.data.get("step") for c in sim.timeline if c.kind == "run_step"]
        assert first_steps[0]["id"] in ran


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=runbooks())
def test_generated_runbook_stays_quiet_when_its_trigger_is_not_met(doc: dict[str, Any]) -> None:
    sim = _simulate(doc, satisfy=False)
    assert [c.summary() for c in sim.timeline if c.kind == "open_incident"] == []


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=runbooks())
def test_generated_rulesets_pass_the_child_process_validation(doc: dict[str, Any]) -> None:
    loaded, _ = load_text(yaml.safe_dump(doc, sort_keys=False), "generated.yaml")
    assert loaded is not None
    definitions = [r.definition() for r in compile_runbook(loaded.runbook).rulesets()]
    assert validate_in_child(definitions) == [None] * len(definitions)
