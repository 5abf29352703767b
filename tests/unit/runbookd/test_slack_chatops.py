"""Acknowledging and approving from Slack, end to end: requests built as Slack documents them
against the real app under uvicorn, a loopback server as ``response_url`` and as Slack's Web
API; SQLite or PostgreSQL. Forged, stale and replayed requests change nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from runbookd.store import tables as t
from tests.e2e.harness import poll
from tests.unit.postmortem.rig import PAYMENT, database_url
from tests.unit.runbookd.audit_app import outage, timeline
from tests.unit.runbookd.slack_rig import SECRET, SlackApp, click, command, serve_slack, signed

APPROVAL = "INC-1:switch_channel"


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with database_url(tmp_path) as found:
        yield found


def audit_rows(url: str) -> list[dict[str, Any]]:
    db = create_engine(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(select(t.audit).order_by(t.audit.c.id)).all()
    finally:
        db.dispose()
    return [dict(r._mapping) for r in rows]


def incident(app: SlackApp) -> dict[str, Any]:
    with app.client() as http:
        found: dict[str, Any] = http.get("/api/v1/incidents/INC-1").json()
    return found


def waiting(app: SlackApp) -> list[str]:
    with app.client() as http:
        return [a["id"] for a in http.get("/api/v1/approvals").json()["approvals"]]


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    out = []
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                out.append(element["text"])
    return out


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in blocks
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


def test_a_genuine_click_acknowledges_within_the_request(url: str) -> None:
    with serve_slack(url) as app:
        outage(app)
        page = {
            "type": "message",
            "text": "INC-1 paged",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "INC-1 paged"}},
                {
                    "type": "actions",
                    "block_id": "runbookd_actions",
                    "elements": [
                        {"type": "button", "action_id": "runbookd_ack", "value": "INC-1"},
                        {"type": "button", "action_id": "runbookd_resolve", "value": "INC-1"},
                    ],
                },
            ],
        }
        body = click("U0ROB", "runbookd_ack", "INC-1", app.side.response_url("ack"), page)
        answer = app.slack("interactions", body)
        assert answer.status_code == 200, answer.text
        found = incident(app)  # right after the one request: already acknowledged
        assert (found["status"], found["acknowledged_by"]) == ("acknowledged", "rob")
        summaries = {e["kind"]: e["summary"] for e in timeline(app)}
        update = app.side.first_to("/actions/T0TEAM/ack/Zx9", "the message update")
    assert summaries["acknowledge"] == "by rob (responder) via slack"
    assert update["replace_original"] is True
    assert texts(update["blocks"]) == ["Acknowledged by rob"]
    assert buttons(update["blocks"]) == [("runbookd_resolve", "INC-1")]  # still to resolve
    assert update["blocks"][0]["text"]["text"] == "INC-1 paged"  # the page itself is kept
    rows = audit_rows(url)
    assert [(r["actor"], r["role"], r["via"], r["action"], r["outcome"]) for r in rows] == [
        ("rob", "responder", "slack", "ack", "applied")
    ]


def test_forged_stale_and_replayed_requests_change_nothing(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve_slack(url) as app:
        outage(app)
        body = click("U0ROB", "runbookd_ack", "INC-1", app.side.response_url())
        forged = app.slack("interactions", body, **signed(body, secret="not-the-secret"))
        stale = app.slack("interactions", body, **signed(body, at=time.time() - 301))
        unsigned = app.slack("interactions", body, **{"x-slack-signature": ""})
        # A body changed after signing: the signature was made over another one.
        other = click("U0ANA", "runbookd_ack", "INC-1", app.side.response_url())
        swapped = app.slack("interactions", other, **signed(body))
        assert incident(app)["status"] == "triggered"
        assert audit_rows(url) == []  # no record under an identity nobody proved
        headers = signed(body)
        genuine = app.slack("interactions", body, **headers)
        replay = app.slack("interactions", body, **headers)
        assert incident(app)["acknowledged_by"] == "rob"
    for refused in (forged, stale, unsigned, swapped, replay):
        assert refused.status_code == 401, refused.text
    assert "5 minutes" in stale.json()["detail"]
    assert "replay" in replay.json()["detail"]
    assert SECRET not in forged.text + stale.text + replay.text
    assert "slack: refused a request" in caplog.text and SECRET not in caplog.text
    assert genuine.status_code == 200
    assert [r["action"] for r in audit_rows(url)] == ["ack"]


def test_a_replay_to_another_process_on_the_same_database_changes_nothing(url: str) -> None:
    # Another replica, or this one after a restart: its own memory of signatures is empty.
    with serve_slack(url) as app:
        outage(app)
        body = click("U0ROB", "runbookd_ack", "INC-1", app.side.response_url())
        headers = signed(body)
        assert app.slack("interactions", body, **headers).status_code == 200
    with serve_slack(url) as other:
        replay = other.slack("interactions", body, **headers)
        assert replay.status_code == 401 and "replay" in replay.json()["detail"]
        # A new request (a new signature) is still taken.
        assert other.slack("interactions", body).status_code == 200
    assert [r["action"] for r in audit_rows(url)] == ["ack", "ack"]


def test_a_signed_request_slack_would_not_send_names_the_field(url: str) -> None:
    with serve_slack(url) as app:
        no_payload = app.slack("interactions", b"text=hello")
        not_json = app.slack("interactions", b"payload=%7Bnope")
        body = click("U0ROB", "runbookd_launch", "INC-1", app.side.response_url())
        unknown = app.slack("interactions", body)
    assert [a.status_code for a in (no_payload, not_json, unknown)] == [400, 400, 400]
    assert no_payload.json()["detail"].startswith("payload: missing")
    assert not_json.json()["detail"] == "payload: not JSON"
    assert unknown.json()["detail"] == "payload.actions[0].action_id: unknown 'runbookd_launch'"


def test_a_viewer_or_an_unknown_slack_user_cannot_approve(url: str) -> None:
    with serve_slack(url) as app:
        outage(app)
        vic = app.slack(
            "interactions", click("U0VIC", "runbookd_approve", APPROVAL, app.side.response_url("v"))
        )
        nobody = app.slack(
            "interactions",
            click("U0NOBODY", "runbookd_approve", APPROVAL, app.side.response_url("n")),
        )
        told_vic = app.side.first_to("/actions/T0TEAM/v/Zx9", "vic's refusal")
        told_nobody = app.side.first_to("/actions/T0TEAM/n/Zx9", "the stranger's refusal")
        assert waiting(app) == [APPROVAL]  # nothing was decided
    assert (vic.status_code, nobody.status_code) == (200, 200)
    assert (told_vic["response_type"], told_vic["replace_original"]) == ("ephemeral", False)
    assert told_vic["text"] == "this needs the approver role; vic is viewer"
    assert "needs the approver role" in told_nobody["text"]
    assert "U0NOBODY" in told_nobody["text"]
    rows = audit_rows(url)
    assert [(r["actor"], r["kind"], r["via"], r["action"], r["outcome"]) for r in rows] == [
        ("vic", "user", "slack", "approve", "denied"),
        ("slack:U0NOBODY", "anonymous", "slack", "approve", "denied"),
    ]


def test_an_approvers_click_on_the_posted_request_names_them(url: str) -> None:
    with serve_slack(url) as app:
        outage(app)
        # The request, posted to the approvals channel through chat.postMessage.
        posted = app.side.first_to("/chat.postMessage", "the approval request in Slack")
        assert posted["channel"] == "#payments-approvals"
        assert buttons(posted["blocks"]) == [
            ("runbookd_approve", APPROVAL),
            ("runbookd_deny", APPROVAL),
        ]
        message = {"type": "message", "text": posted["text"], "blocks": posted["blocks"]}
        body = click("U0ANA", "runbookd_approve", APPROVAL, app.side.response_url("a"), message)
        assert app.slack("interactions", body).status_code == 200
        assert waiting(app) == []
        summaries = {e["kind"]: e["summary"] for e in timeline(app)}
        update = app.side.first_to("/actions/T0TEAM/a/Zx9", "the message update")
    assert (
        summaries["decide_approval"] == "step=switch_channel approved by ana (approver) via slack"
    )
    assert texts(update["blocks"]) == ["Approved by ana"]
    assert buttons(update["blocks"]) == []
    rows = audit_rows(url)
    assert [
        (r["actor"], r["role"], r["via"], r["action"], r["target"], r["outcome"]) for r in rows
    ] == [("ana", "approver", "slack", "approve", APPROVAL, "applied")]


def test_a_step_for_one_team_refuses_an_approver_outside_it(url: str, tmp_path: Path) -> None:
    gated = tmp_path / "payment-team-gate.yaml"
    gate = "approval: {min_severity: critical, timeout: 10m, on_timeout: escalate"
    gated.write_text(PAYMENT.read_text().replace(gate, gate + ", team: payments"))
    with serve_slack(url, runbook=gated) as app:
        outage(app)
        body = click("U0ANA", "runbookd_approve", APPROVAL, app.side.response_url("t"))
        assert app.slack("interactions", body).status_code == 200
        told = app.side.first_to("/actions/T0TEAM/t/Zx9", "ana's refusal")
        assert waiting(app) == [APPROVAL]
    assert told["text"] == "this needs role approver in team payments; ana is approver in no team"
    assert [(r["actor"], r["outcome"]) for r in audit_rows(url)] == [("ana", "denied")]


def test_slash_commands(url: str) -> None:
    with serve_slack(url) as app:
        outage(app)
        answer = {}
        for name, (user, text) in {
            "help": ("U0VIC", "help"),
            "unknown": ("U0VIC", "frobnicate"),
            "vic_ack": ("U0VIC", "ack INC-1"),
            "ack": ("U0ROB", "ack inc-1"),
            "approve": ("U0ANA", "approve inc-1:switch_channel"),
            "status": ("U0VIC", "status INC-1"),
            "open": ("U0VIC", "status"),
            "missing": ("U0ROB", "resolve INC-99"),
        }.items():
            sent = app.slack("commands", command(user, text, app.side.response_url(name)))
            assert sent.status_code == 200, sent.text
            answer[name] = sent.json()
    assert "`/runbookd ack INC-12`" in answer["help"]["text"]
    assert answer["unknown"]["text"].startswith("unknown command 'frobnicate'.")
    assert answer["vic_ack"] == {
        "response_type": "ephemeral",
        "text": "this needs the responder role; vic is viewer",
    }
    assert answer["ack"] == {"response_type": "in_channel", "text": "INC-1 acknowledged by rob"}
    assert answer["approve"] == {
        "response_type": "in_channel",
        "text": f"{APPROVAL} approved by ana",
    }
    assert "acknowledged by rob" in answer["status"]["text"]
    assert {answer[n]["response_type"] for n in ("help", "status", "open")} == {"ephemeral"}
    assert answer["open"]["text"].startswith("*INC-1* [critical] ")  # open, whatever its stage
    assert answer["missing"]["text"] == "Could not resolve INC-99: no incident 'INC-99'"


def test_an_answer_not_ready_in_time_follows_through_the_response_url(url: str) -> None:
    # The request stops waiting at once: Slack is told "working on it", the result follows.
    with serve_slack(url, answer_within=0.0) as app:
        outage(app)
        sent = app.slack("commands", command("U0ROB", "ack INC-1", app.side.response_url("c")))
        later = app.side.first_to("/actions/T0TEAM/c/Zx9", "the result")
        clicked = app.slack(
            "interactions", click("U0ROB", "runbookd_resolve", "INC-1", app.side.response_url("r"))
        )
        updates = poll(
            lambda: (lambda u: u if len(u) == 2 else None)(app.side.to("/actions/T0TEAM/r/Zx9")),
            what="working, then resolved",
        )
    assert sent.json()["text"].startswith("Working on it")
    assert later == {"response_type": "in_channel", "text": "INC-1 acknowledged by rob"}
    assert clicked.status_code == 200
    assert updates[0]["text"].startswith("Working on it")
    assert texts(updates[1]["blocks"]) == ["Resolved by rob"]


def test_without_a_signing_secret_the_endpoints_are_off(url: str) -> None:
    from runbookd.server.app import build_app
    from runbookd.service.core import Options
    from tests.unit.postmortem.rig import PAYMENT
    from tests.unit.runbookd.live_app import live

    app = build_app(Options(database_url=url, runbooks=[PAYMENT], dry_run=True))
    body = command("U0ROB", "help", "http://127.0.0.1:9/x")
    import httpx

    with live(app) as base:
        answer = httpx.post(
            f"{base}/api/v1/chatops/slack/commands", content=body, headers=signed(body)
        )
    assert answer.status_code == 404
    assert "chatops.slack.signing_secret" in answer.json()["detail"]
