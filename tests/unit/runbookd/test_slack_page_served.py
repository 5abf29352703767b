"""A page really sent by the service through the slack connector carries Acknowledge and
Resolve, a handling step's message does not, and clicking Acknowledge on the page as it was
posted acknowledges the incident. The real app (not a dry run) under uvicorn; a loopback
server as Slack's Web API and as the click's ``response_url``; SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from runbookd.api.chatops_slack import SlackChatops
from runbookd.connectors.slack import SlackSettings
from runbookd.server.app import build_app
from runbookd.service.core import Options
from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import poll
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.audit_app import SHARED
from tests.unit.runbookd.live_app import live
from tests.unit.runbookd.slack_rig import (
    ACCESS_SLACK,
    BOT_TOKEN,
    SECRET,
    SlackSide,
    click,
    signed,
)

RUNBOOK = """\
runbook: 1
id: checkout-down
title: Checkout is down
team: payments
section: "3.1"
classification: {nature: business, scope: local, complexity: simple}
detection:
  group_by: [labels.service]
  triggers:
    - id: down
      match: {field: name, eq: CheckoutDown}
escalation:
  levels:
    - id: oncall
      who: payments on-call
      connector: slack
      params: {channel: "#payments", text: "{{ incident.id }}: checkout is down"}
handling:
  steps:
    - id: tell
      connector: slack
      params: {channel: "#payments", text: "{{ incident.id }}: handling started"}
"""


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with database_url(tmp_path) as found:
        yield found


def test_a_served_page_carries_buttons_that_acknowledge(url: str, tmp_path: Path) -> None:
    runbook = tmp_path / "checkout-down.yaml"
    runbook.write_text(RUNBOOK)
    side = SlackSide()
    app = build_app(
        Options(database_url=url, runbooks=[runbook]),
        credentials=ACCESS_SLACK.shared,
        access=ACCESS_SLACK,
        connector_settings={
            "slack": SlackSettings(bot_token=SecretStr(BOT_TOKEN), api_url=side.url)
        },
        slack=SlackChatops(SECRET),
    )
    auth = {"authorization": f"Bearer {SHARED}"}
    try:
        with live(app) as base, httpx.Client(base_url=base, headers=auth, timeout=30) as http:
            alert = am_alert(
                {"alertname": "CheckoutDown", "service": "checkout"}, starts_at=datetime.now(UTC)
            )
            sent = http.post("/api/v1/alerts/alertmanager", json=am_notification([alert]))
            assert sent.status_code == 202, sent.text
            posts = poll(
                lambda: (lambda p: p if len(p) == 2 else None)(side.to("/chat.postMessage")),
                what="the page and the step's message",
            )
            [page] = [p for p in posts if "checkout is down" in p["text"]]
            [step] = [p for p in posts if "handling started" in p["text"]]
            message = {"type": "message", "text": page["text"], "blocks": page["blocks"]}
            [ack] = [
                e
                for b in page["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
                if e["action_id"] == "runbookd_ack"
            ]
            body = click("U0ROB", ack["action_id"], ack["value"], side.response_url("p"), message)
            clicked = http.post(
                "/api/v1/chatops/slack/interactions", content=body, headers=signed(body)
            )
            found = http.get("/api/v1/incidents/INC-1").json()
            update = side.first_to("/actions/T0TEAM/p/Zx9", "the page's update")
    finally:
        side.close()
    assert page["channel"] == "#payments" and "blocks" not in step
    assert ack["value"] == "INC-1"
    assert clicked.status_code == 200
    # (its one step done, the incident is mitigated by then: acknowledged is a stamp of its own)
    assert found["acknowledged_by"] == "rob" and found["acknowledged_at"] is not None
    assert update["blocks"][0] == page["blocks"][0]  # the page's text, then who acknowledged
    assert update["blocks"][1]["elements"][0]["text"] == "Acknowledged by rob"
