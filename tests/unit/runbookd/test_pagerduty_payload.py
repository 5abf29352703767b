"""Reading a signed PagerDuty v3 body: the fields runbookd uses, 400 messages naming the field
of a body that is not a webhook event, and the dedup key a page sent, which PagerDuty reports
back as the incident's ``incident_key``."""

from __future__ import annotations

import json

import pytest

from runbookd.api.pagerduty_links import dedup_key
from runbookd.api.pagerduty_payload import BadPayload, parse
from tests.unit.runbookd.pagerduty_app import webhook_body


def test_an_acknowledgement_as_pagerduty_sends_it() -> None:
    event = parse(webhook_body("incident.acknowledged", "INC-7", event_id="01E2"))
    assert (event.id, event.action, event.incident_key, event.number) == (
        "01E2",
        "ack",
        "INC-7",
        4711,
    )
    assert event.agent is not None and (event.agent.id, event.agent.name) == ("PXPGF42", "Pat Doe")


def test_an_automatic_resolution_has_no_agent_and_other_types_no_action() -> None:
    assert parse(webhook_body("incident.resolved", "k", agent=None)).agent is None
    assert parse(webhook_body("incident.resolved", "k")).action == "resolve"
    assert parse(webhook_body("incident.priority_updated", "k")).action is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body: not JSON"),
        (b"[]", "body: must be a JSON object"),
        (b"{}", "event: missing (not a v3 webhook)"),
        (json.dumps({"event": {"id": "E"}}).encode(), "event.event_type: missing"),
        (json.dumps({"event": {"id": 5, "event_type": "x"}}).encode(), "event.id: must be"),
        (
            json.dumps({"event": {"id": "E", "event_type": "x", "data": []}}).encode(),
            "event.data: must be an object",
        ),
        (
            json.dumps(
                {"event": {"id": "E", "event_type": "x", "data": {"incident_key": 1}}}
            ).encode(),
            "event.data.incident_key: must be",
        ),
    ],
)
def test_a_body_that_is_not_an_event_names_the_field(body: bytes, message: str) -> None:
    with pytest.raises(BadPayload) as caught:
        parse(body)
    assert str(caught.value).startswith(message)


def test_the_dedup_key_pagerduty_reports_is_the_parameter_or_else_the_call_id() -> None:
    level = {"connector": "pagerduty", "call_id": "INC-3:notify:primary:0:1"}
    assert dedup_key({**level, "params": {"routing_key": "R", "dedup_key": "INC-3"}}) == "INC-3"
    assert dedup_key({**level, "params": {"routing_key": "R"}}) == "INC-3:notify:primary:0:1"
    # not a page: another connector, an acknowledge sent, or runbookd's own mirror of an action
    assert dedup_key({**level, "connector": "slack", "params": {}}) is None
    assert dedup_key({**level, "params": {"action": "acknowledge", "dedup_key": "INC-3"}}) is None
    assert dedup_key({**level, "role": "sync", "params": {"dedup_key": "INC-3"}}) is None
