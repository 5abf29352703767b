"""Inhibition: while an incident of an inhibiting runbook is open, the inhibited runbook opens
nothing and pages nobody; its alerts are recorded as suppressed and open its incident when the
inhibitor resolves, if they still fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from runbookd.engine.compiler import compile_runbook
from runbookd.engine.events import Event
from runbookd.engine.lang.loader import load_text
from runbookd.engine.postmortem import draft_markdown
from runbookd.engine.simulator import Simulator

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HEAD = """
runbook: 1
title: T
team: t
section: "1.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
escalation:
  levels:
    - {id: oncall, connector: log, params: {message: page}}
"""
DB = (
    HEAD
    + """
id: db
detection:
  group_by: [labels.instance]
  triggers:
    - match: {field: name, eq: DbDown}
"""
)
HOST = (
    HEAD
    + """
id: host
detection:
  group_by: [labels.instance]
  triggers:
    - match: {field: name, eq: HostDown}
"""
)


def orders(*, equal: str = "", trigger: str = "- match: {field: name, eq: OrdersFailing}") -> str:
    rules = "    - runbook: db" + (f"\n      equal: [{equal}]" if equal else "")
    return (
        HEAD
        + f"""
id: orders
detection:
  group_by: [labels.client]
  inhibited_by:
{rules}
    - runbook: host
  triggers:
    {trigger}
"""
    )


def sim(*texts: str) -> Simulator:
    compiled = []
    for text in texts:
        loaded, problems = load_text(text, "rb.yaml")
        assert loaded is not None and not problems, problems
        compiled.append(compile_runbook(loaded.runbook))
    return Simulator(compiled, START)


def alert(
    s: Simulator, name: str, status: str = "firing", ends_at: datetime | None = None, **labels: str
) -> dict[str, Any]:
    s.ingest(
        [
            Event(
                name=name,
                at=s.now,
                kind="alert",
                status=status,  # type: ignore[arg-type]
                labels={"alertname": name, **labels},
                ends_at=ends_at,
            )
        ]
    )
    return dict(s.outcomes[-1].data)


def pages(s: Simulator, runbook: str) -> list[datetime]:
    return [c.at for c in s.timeline if c.kind == "notify" and c.runbook == runbook]


def test_a_suppressed_alert_opens_nothing_and_names_the_inhibiting_incident() -> None:
    s = sim(DB, HOST, orders())
    alert(s, "DbDown", instance="db-1")
    s.at(timedelta(minutes=1))
    outcome = alert(s, "OrdersFailing", client="app")
    assert (outcome["outcome"], outcome["incident"], outcome["runbook"]) == (
        "suppressed",
        "INC-1",
        "orders",
    )
    assert outcome["results"][0]["by_runbook"] == "db"
    assert s.incidents("orders") == [] and pages(s, "orders") == []
    db = s.incident_for("db")
    [entry] = [c for c in db.timeline if c.kind == "suppress"]
    assert entry.data["suppressed_runbook"] == "orders"
    assert entry.data["event"] == "OrdersFailing"
    # a re-sent copy is suppressed again but is no new entry on the inhibitor's timeline
    assert alert(s, "OrdersFailing", client="app")["outcome"] == "suppressed"
    assert sum(c.kind == "suppress" for c in db.timeline) == 1


def test_it_opens_when_the_inhibitor_resolves_and_says_why_it_is_late() -> None:
    s = sim(DB, HOST, orders())
    alert(s, "DbDown", instance="db-1")
    s.at(timedelta(minutes=2))
    alert(s, "OrdersFailing", client="app")
    alert(s, "OrdersFailing", client="web")
    s.at(timedelta(minutes=10))
    alert(s, "DbDown", "resolved", instance="db-1")
    opened = sorted(s.incidents("orders"), key=lambda i: i.labels["client"])
    assert [(i.labels["client"], i.opened_at, i.is_open) for i in opened] == [
        ("app", START + timedelta(minutes=10), True),
        ("web", START + timedelta(minutes=10), True),
    ]
    assert pages(s, "orders") == [START + timedelta(minutes=10)] * 2
    [late] = [c.data for c in opened[0].timeline if c.kind == "note"]
    assert late["suppressed_by"] == "INC-1"
    assert late["suppressed_since"] == (START + timedelta(minutes=2)).isoformat()
    assert "suppressed by INC-1 (db)" in late["text"]
    db = s.incident_for("db")
    assert db.timeline[-1].data["text"].startswith("released 2 suppressed alert(s): 2 fire again")
    assert "## Suppressed\n- orders: 2 alert(s)" in draft_markdown(db)


def test_an_alert_resolved_while_suppressed_opens_nothing() -> None:
    s = sim(DB, HOST, orders())
    alert(s, "DbDown", instance="db-1")
    alert(s, "OrdersFailing", client="app")
    s.at(timedelta(minutes=3))
    resolved = alert(s, "OrdersFailing", "resolved", client="app")
    assert (resolved["outcome"], resolved["incident"]) == ("suppressed", "INC-1")
    assert resolved["results"][0]["resolved"] is True
    s.at(timedelta(minutes=5))
    alert(s, "DbDown", "resolved", instance="db-1")
    assert s.incidents("orders") == [] and pages(s, "orders") == []


def test_an_alert_whose_end_has_passed_opens_nothing() -> None:
    s = sim(DB, HOST, orders())
    alert(s, "DbDown", instance="db-1")
    alert(s, "OrdersFailing", ends_at=START + timedelta(minutes=4), client="app")
    s.at(timedelta(minutes=5))
    alert(s, "DbDown", "resolved", instance="db-1")
    assert s.incidents("orders") == []
    assert "1 ended meanwhile" in s.incident_for("db").timeline[-1].data["text"]


def test_equal_labels_suppress_only_the_alerts_that_share_them() -> None:
    s = sim(DB, HOST, orders(equal="labels.instance"))
    alert(s, "DbDown", instance="db-1")
    same = alert(s, "OrdersFailing", client="app", instance="db-1")
    other = alert(s, "OrdersFailing", client="web", instance="db-2")
    assert same["outcome"] == "suppressed"
    assert other["outcome"] == "opened"
    assert [i.labels["client"] for i in s.incidents("orders")] == ["web"]


def test_an_incident_open_before_the_inhibitor_keeps_its_alerts() -> None:
    s = sim(DB, HOST, orders())
    assert alert(s, "OrdersFailing", client="app")["outcome"] == "opened"
    alert(s, "DbDown", instance="db-1")
    joined = alert(s, "OrdersFailing", client="app", shard="2")
    assert (joined["outcome"], joined["runbook"]) == ("joined", "orders")
    # a new key of the same runbook is what the open inhibitor holds back
    assert alert(s, "OrdersFailing", client="web")["outcome"] == "suppressed"


def test_a_held_alert_still_covered_by_another_inhibitor_waits_for_that_one() -> None:
    s = sim(DB, HOST, orders())
    alert(s, "DbDown", instance="db-1")
    alert(s, "HostDown", instance="h-1")
    alert(s, "OrdersFailing", client="app")
    s.at(timedelta(minutes=5))
    alert(s, "DbDown", "resolved", instance="db-1")
    assert s.incidents("orders") == []
    assert "1 stay suppressed" in s.incident_for("db").timeline[-1].data["text"]
    s.at(timedelta(minutes=8))
    s.resolve(s.incident_for("host").id, by="frank")
    [opened] = s.incidents("orders")
    assert opened.opened_at == START + timedelta(minutes=8)


def test_a_for_hold_that_ends_while_inhibited_is_suppressed_then_opens() -> None:
    s = sim(DB, HOST, orders(trigger="- {match: {field: name, eq: OrdersFailing}, for: 3m}"))
    alert(s, "DbDown", instance="db-1")
    assert alert(s, "OrdersFailing", client="app")["outcome"] == "held"
    s.at(timedelta(minutes=4))
    assert s.incidents("orders") == []
    # the alert re-sent after its hold was suppressed: suppressed again, no new hold
    assert alert(s, "OrdersFailing", client="app")["outcome"] == "suppressed"
    s.at(timedelta(minutes=6))
    alert(s, "DbDown", "resolved", instance="db-1")
    [opened] = s.incidents("orders")
    assert opened.opened_at == START + timedelta(minutes=6)


def test_a_generic_event_is_recorded_as_suppressed_and_not_kept() -> None:
    s = sim(DB, HOST, orders())
    alert(s, "DbDown", instance="db-1")
    s.ingest([Event(name="OrdersFailing", at=s.now, labels={"client": "app"})])
    assert s.outcomes[-1].data["outcome"] == "suppressed"
    alert(s, "DbDown", "resolved", instance="db-1")
    assert s.incidents("orders") == []
    assert "## Suppressed\n- orders: 1 alert(s)" in draft_markdown(s.incident_for("db"))


def test_the_same_inputs_suppress_and_release_the_same_way() -> None:
    """A replay (or a follower) decides from the inputs alone."""

    def run() -> list[str]:
        s = sim(DB, HOST, orders())
        alert(s, "DbDown", instance="db-1")
        alert(s, "OrdersFailing", client="app")
        s.at(timedelta(minutes=3))
        alert(s, "DbDown", "resolved", instance="db-1")
        return [c.summary() for c in s.timeline + s.outcomes]

    assert run() == run()
