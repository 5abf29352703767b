"""PagerDuty two-way: v3 webhooks acknowledge and resolve the runbookd incident they paged for,
forged and replayed ones change nothing, and what runbookd does is sent to PagerDuty once, never
echoed back. The real app under uvicorn on loopback, a loopback stand-in for PagerDuty's Events
API, SQLite or PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from runbookd.store import tables as t
from tests.e2e.harness import poll
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.pagerduty_app import (
    ROUTING_KEY,
    RUTH,
    SECRET,
    STRANGER,
    VERA,
    serve,
    signed,
    webhook_body,
)


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with database_url(tmp_path) as found:
        yield found


def rows(url: str, table: Any) -> list[dict[str, Any]]:
    db = create_engine(url)
    try:
        with db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(table)).all()]
    finally:
        db.dispose()


def test_an_acknowledgement_in_pagerduty_acknowledges_as_the_mapped_user(url: str) -> None:
    with serve(url) as app:
        app.page()
        body = webhook_body("incident.acknowledged", "INC-1")
        answer = app.webhook(body, signed(body))
        incident = app.incident()
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "applied"
        # mitigated: the runbook's one step is done; acknowledged by a person all the same
        assert (incident["status"], incident["acknowledged_by"]) == ("mitigated", "ruth")
        assert incident["acknowledged_at"] is not None
        summaries = [e["summary"] for e in incident["timeline"] if e["kind"] == "acknowledge"]
        assert summaries == ["by ruth (responder) via pagerduty from 127.0.0.1"]
        # A later resolution in runbookd is told to PagerDuty; the acknowledgement that came from
        # PagerDuty was not sent back before it (one outbox, in order).
        with app.client(RUTH) as http:
            assert http.post("/api/v1/incidents/INC-1/resolve", json={"by": "x"}).status_code == 200
        poll(lambda: ("resolve", "INC-1") in app.pagerduty.actions(), what="the resolve event")
        assert app.pagerduty.actions() == [("trigger", "INC-1"), ("resolve", "INC-1")]
        assert app.metric("applied") == 1
    audit = [(a["actor"], a["via"], a["action"], a["outcome"]) for a in rows(url, t.audit)]
    assert audit == [("ruth", "pagerduty", "ack", "applied"), ("ruth", "api", "resolve", "applied")]


def test_a_resolution_by_an_unmapped_pagerduty_user_names_them_as_external(url: str) -> None:
    with serve(url) as app:
        app.page()
        body = webhook_body("incident.resolved", "INC-1", agent=STRANGER, agent_name="Sam Stone")
        assert app.webhook(body, signed(body)).json()["status"] == "applied"
        incident = app.incident()
        assert (incident["status"], incident["resolved_by"]) == ("resolved", "Sam Stone")
        resolve = next(e for e in incident["timeline"] if e["kind"] == "resolve")
        assert resolve["summary"] == (
            "resolved in PagerDuty incident #4711 by Sam Stone (responder) via pagerduty "
            "from 127.0.0.1"
        )
    (record,) = rows(url, t.audit)
    assert (record["actor"], record["kind"], record["via"], record["action"]) == (
        "Sam Stone",
        "external",
        "pagerduty",
        "resolve",
    )


def test_forged_tampered_and_unsigned_requests_get_401_and_change_nothing(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(url) as app:
        app.page()
        body = webhook_body("incident.resolved", "INC-1")
        tampered = webhook_body("incident.resolved", "INC-1", event_id="other-event")
        unsigned = {k: v for k, v in signed(body).items() if k != "x-pagerduty-signature"}
        answers = [
            app.webhook(body, signed(body, b"not-the-secret")),
            app.webhook(tampered, signed(body)),  # a signature of another body
            app.webhook(body, unsigned),
        ]
        assert [a.status_code for a in answers] == [401, 401, 401]
        assert "does not match" in answers[0].json()["detail"]
        assert "missing X-PagerDuty-Signature" in answers[2].json()["detail"]
        assert app.incident()["acknowledged_at"] is None
        assert app.metric("unauthorized") == 3
        assert SECRET.decode() not in "".join(a.text for a in answers)
    assert SECRET.decode() not in caplog.text
    assert rows(url, t.webhook_event) == [] and rows(url, t.audit) == []


def test_a_redelivered_event_acts_once_also_after_a_restart(url: str) -> None:
    body = webhook_body("incident.resolved", "INC-1", event_id="01DEN7X3F9ZJ0Q")
    with serve(url) as app:
        app.page()
        assert app.webhook(body, signed(body)).json()["status"] == "applied"
        again = app.webhook(body, signed(body))  # PagerDuty's retry: same body, same event id
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    with serve(url) as app:  # another process on the same database: a restart, or a replica
        with app.client(RUTH) as http:
            reopened = http.post("/api/v1/incidents/INC-1/reopen", json={"by": "x"})
        assert reopened.status_code == 200, reopened.text
        late = app.webhook(body, signed(body))
        assert (late.status_code, late.json()["status"]) == (200, "duplicate")
        assert app.incident()["resolved_at"] is None  # the old event did not resolve it again
        assert app.metric("duplicate") == 1
    assert [(r["action"], r["via"]) for r in rows(url, t.audit)] == [
        ("resolve", "pagerduty"),
        ("reopen", "api"),
    ]


def test_acknowledging_in_runbookd_acknowledges_in_pagerduty_and_its_echo_is_quiet(
    url: str,
) -> None:
    with serve(url) as app:
        app.page()
        with app.client(RUTH) as http:
            assert http.post("/api/v1/incidents/INC-1/ack", json={"by": "x"}).status_code == 200
        poll(lambda: ("acknowledge", "INC-1") in app.pagerduty.actions(), what="the ack event")
        sent = next(e for e in app.pagerduty.events if e["event_action"] == "acknowledge")
        assert sent == {
            "routing_key": ROUTING_KEY,
            "event_action": "acknowledge",
            "dedup_key": "INC-1",
        }
        # PagerDuty reports the acknowledgement runbookd just made: nothing changes, nothing is
        # sent back, and the audit log holds only the person's own act.
        echo = webhook_body("incident.acknowledged", "INC-1", agent=None)
        answer = app.webhook(echo, signed(echo))
        assert answer.json() == {
            "status": "unchanged",
            "incident": "INC-1",
            "reason": "already acknowledged",
        }
        with app.client(RUTH) as http:
            assert http.post("/api/v1/incidents/INC-1/resolve", json={"by": "x"}).status_code == 200
        poll(lambda: ("resolve", "INC-1") in app.pagerduty.actions(), what="the resolve event")
        echo = webhook_body("incident.resolved", "INC-1", agent=None)
        assert app.webhook(echo, signed(echo)).json()["reason"] == "already resolved"
        with app.client(RUTH) as http:  # the next thing sent to PagerDuty comes after both echoes
            assert http.post("/api/v1/incidents/INC-1/reopen", json={"by": "x"}).status_code == 200
        poll(lambda: len(app.pagerduty.actions()) == 4, what="the second trigger")
        assert app.pagerduty.actions() == [
            ("trigger", "INC-1"),
            ("acknowledge", "INC-1"),
            ("resolve", "INC-1"),
            ("trigger", "INC-1"),
        ]
        # The post-mortem lists the pages, not what runbookd passed on to PagerDuty.
        with app.client() as http:
            summary = http.get("/api/v1/incidents/INC-1/postmortem?format=json").json()
        assert [(n["level"], n["connector"]) for n in summary["notifications"]] == [
            ("primary", "pagerduty"),
            ("primary", "pagerduty"),
        ]
    assert [(r["actor"], r["action"]) for r in rows(url, t.audit)] == [
        ("ruth", "ack"),
        ("ruth", "resolve"),
        ("ruth", "reopen"),
    ]


def test_an_incident_runbookd_did_not_open_is_answered_200_and_counted(url: str) -> None:
    with serve(url) as app:
        body = webhook_body("incident.acknowledged", "some-other-tools-key")
        answer = app.webhook(body, signed(body))
        assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
        assert app.metric("unknown_incident") == 1
        other = webhook_body("incident.triggered", "INC-1")
        assert app.webhook(other, signed(other)).json() == {
            "status": "ignored",
            "incident": None,
            "reason": "incident.triggered is not acted on",
        }


def test_a_mapped_viewer_cannot_resolve_from_pagerduty(url: str) -> None:
    with serve(url) as app:
        app.page()
        body = webhook_body("incident.resolved", "INC-1", agent=VERA, agent_name="Vera")
        answer = app.webhook(body, signed(body))
        assert (answer.status_code, answer.json()["status"]) == (200, "denied")
        assert answer.json()["reason"] == "vera is viewer; resolve needs responder"
        assert app.incident()["resolved_at"] is None
    (record,) = rows(url, t.audit)
    assert (record["actor"], record["outcome"], record["via"]) == ("vera", "denied", "pagerduty")


def test_any_configured_secret_signs_and_a_signed_body_that_is_not_an_event_is_a_400(
    url: str,
) -> None:
    old, new, retired = b"old-webhook-secret-1", b"new-webhook-secret-2", b"retired-secret-0"
    with serve(url, secrets=(old, new)) as app:  # rotating: both configured
        app.page()
        ack = webhook_body("incident.acknowledged", "INC-1")
        assert app.webhook(ack, signed(ack, old)).json()["status"] == "applied"
        resolve = webhook_body("incident.resolved", "INC-1")
        assert app.webhook(resolve, signed(resolve, retired)).status_code == 401
        # PagerDuty signs with every secret it has while rotating; one known one is enough
        assert app.webhook(resolve, signed(resolve, retired, new)).json() == {
            "status": "applied",
            "incident": "INC-1",
            "reason": "resolved",
        }
        bad = b'{"event": {"event_type": "incident.resolved"}}'
        answer = app.webhook(bad, signed(bad, new))
        assert (answer.status_code, answer.json()["detail"]) == (400, "event.id: missing")
        huge = b'{"event": {"id": "' + b"x" * 300_000 + b'"}}'
        assert app.webhook(huge, signed(huge, new)).status_code == 413


def test_without_a_configured_secret_every_request_is_refused(url: str) -> None:
    with serve(url, secrets=()) as app:
        body = webhook_body("incident.acknowledged", "INC-1")
        answer = app.webhook(body, signed(body))
        assert answer.status_code == 401
        assert "chatops.pagerduty.webhook_secrets is not configured" in answer.json()["detail"]


def test_a_store_that_refuses_the_event_answers_503_and_the_retry_acts(url: str) -> None:
    with serve(url) as app:
        app.page()
        db = create_engine(url)
        try:
            t.webhook_event.drop(db)  # the store refuses what the webhook must write first
            body = webhook_body("incident.acknowledged", "INC-1")
            refused = app.webhook(body, signed(body))
            assert refused.status_code == 503
            assert app.incident()["acknowledged_at"] is None
            t.webhook_event.create(db)  # back: PagerDuty's retry of the same event acts
            retried = app.webhook(body, signed(body))
        finally:
            db.dispose()
        assert retried.json()["status"] == "applied"
        assert app.incident()["acknowledged_by"] == "ruth"
        assert app.metric("unavailable") == 1
