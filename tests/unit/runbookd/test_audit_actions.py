"""Who did what on an incident: every ack, note, approval -- and every refused attempt -- is in
the audit log with name, role, kind, via and address, and on the timeline; no configured secret
reaches either. The real app under uvicorn, users with tokens, SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from runbookd.store import tables as t
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.audit_app import CLI_AGENT, SHARED, outage, serve, timeline


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


def _who(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["actor"], row["role"], row["kind"], row["via"], row["address"])


def test_an_approval_names_the_approver_on_the_timeline_and_in_the_log(url: str) -> None:
    with serve(url) as app:
        outage(app)
        with app.client("rob", **CLI_AGENT) as rob:
            assert rob.post("/api/v1/incidents/INC-1/ack", json={"by": "x"}).status_code == 200
        with app.client("ana") as ana:
            decided = ana.post(
                "/api/v1/approvals/INC-1:switch_channel", json={"approve": True, "by": "someone"}
            )
        assert decided.status_code == 200, decided.text
        summaries = {e["kind"]: e["summary"] for e in timeline(app)}
    assert summaries["acknowledge"] == "by rob (responder) via cli from 127.0.0.1"
    assert summaries["decide_approval"] == (
        "step=switch_channel approved by ana (approver) via api from 127.0.0.1"
    )
    rows = audit_rows(url)
    assert [(r["action"], r["target"], r["outcome"]) for r in rows] == [
        ("ack", "INC-1", "applied"),
        ("approve", "INC-1:switch_channel", "applied"),
    ]
    assert [_who(r) for r in rows] == [
        ("rob", "responder", "user", "cli", "127.0.0.1"),
        ("ana", "approver", "user", "api", "127.0.0.1"),
    ]
    assert all(r["journal_seq"] is not None and r["incident_id"] == "INC-1" for r in rows)


def test_a_denied_attempt_is_logged_with_what_was_missing(url: str) -> None:
    with serve(url) as app:
        outage(app)
        with app.client("vic") as vic:
            ack = vic.post("/api/v1/incidents/INC-1/ack", json={"by": "vic"})
        with app.client("rob") as rob:
            decide = rob.post(
                "/api/v1/approvals/INC-1:switch_channel", json={"approve": True, "by": "rob"}
            )
        assert "acknowledge" not in {e["kind"] for e in timeline(app)}
    assert (ack.status_code, decide.status_code) == (403, 403)
    rows = audit_rows(url)
    assert [(r["actor"], r["action"], r["target"], r["outcome"]) for r in rows] == [
        ("vic", "ack", "INC-1", "denied"),
        ("rob", "decide", "INC-1:switch_channel", "denied"),
    ]
    assert rows[0]["reason"] == "this needs the responder role; vic is viewer"
    assert rows[1]["reason"] == "this needs the approver role; rob is responder"


def test_an_action_the_engine_refuses_is_logged_as_refused(url: str) -> None:
    with serve(url) as app:
        outage(app)
        with app.client("rob") as rob:
            assert (
                rob.post("/api/v1/incidents/INC-1/resolve", json={"by": "rob"}).status_code == 200
            )
            again = rob.post("/api/v1/incidents/INC-1/ack", json={"by": "rob"})
    assert again.status_code == 409
    rows = audit_rows(url)
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("resolve", "applied"),
        ("ack", "refused"),
    ]
    assert rows[1]["reason"] == "incident INC-1 is already resolved"


def test_the_shared_token_records_the_claimed_name_and_its_kind(url: str) -> None:
    with serve(url) as app:
        outage(app)
        with app.client() as shared:
            answer = shared.post(
                "/api/v1/incidents/INC-1/notes", json={"by": "carol", "text": "hi"}
            )
            assert answer.status_code == 200
    [row] = audit_rows(url)
    assert _who(row) == ("carol", "admin", "token", "api", "127.0.0.1")
    assert (row["action"], row["detail"]) == ("note", "hi")


def test_a_note_with_a_configured_secret_is_stored_redacted(url: str) -> None:
    text = f"rotated the webhook token, old one was {SHARED} -- revoke it"
    with serve(url) as app:
        outage(app)
        with app.client("rob") as rob:
            assert rob.post(
                "/api/v1/incidents/INC-1/notes", json={"by": "r", "text": text}
            ).is_success
        entries = timeline(app)
    [row] = audit_rows(url)
    assert SHARED not in row["detail"] and "[redacted]" in row["detail"]
    assert not [e for e in entries if SHARED in e["summary"] or SHARED in str(e["data"])]
    [mine] = [e for e in entries if e["kind"] == "note" and e["data"].get("by") == "rob"]
    assert mine["summary"] == (
        "rotated the webhook token, old one was [redacted] -- revoke it"
        " (rob (responder) via api from 127.0.0.1)"
    )
