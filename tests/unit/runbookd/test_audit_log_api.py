"""``GET /api/v1/audit``: admins read who did what, newest first, filtered and paged by a
cursor; a bad filter is a 400 naming the parameter; no secret in any field; the log outlives a
restart. The real app under uvicorn, SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, insert

from runbookd.auth.audit import AuditRecord
from runbookd.store import tables as t
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.audit_app import CLI_AGENT, SHARED, App, outage, serve


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with database_url(tmp_path) as found:
        yield found


def _people_act(app: App) -> None:
    """rob acks through the CLI and notes the shared token, vic is refused, ana approves."""
    with app.client("rob", **CLI_AGENT) as rob:
        assert rob.post("/api/v1/incidents/INC-1/ack", json={"by": "rob"}).is_success
    with app.client("vic") as vic:
        assert vic.post("/api/v1/incidents/INC-1/ack", json={"by": "vic"}).status_code == 403
    with app.client("rob") as rob:
        note = {"by": "rob", "text": f"the old token was {SHARED}"}
        assert rob.post("/api/v1/incidents/INC-1/notes", json=note).is_success
    with app.client("ana") as ana:
        decided = ana.post(
            "/api/v1/approvals/INC-1:switch_channel", json={"approve": True, "by": "ana"}
        )
        assert decided.is_success, decided.text


def _read(http: httpx.Client, **params: str) -> dict[str, Any]:
    answer = http.get("/api/v1/audit", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _actions(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["actor"], e["action"], e["outcome"]) for e in body["entries"]]


def test_admins_read_the_log_filtered_and_paged_and_it_outlives_a_restart(url: str) -> None:
    with serve(url) as app:
        outage(app)
        _people_act(app)
        with app.client("vic") as vic:
            refused = vic.get("/api/v1/audit")
        with app.client() as admin:
            everything = _read(admin)
            raw = admin.get("/api/v1/audit").text
            by_filter = {
                "actor": _read(admin, actor="rob"),
                "action": _read(admin, action="ack"),
                "target": _read(admin, target="INC-1"),
                "outcome": _read(admin, outcome="denied"),
                "via": _read(admin, via="cli"),
            }
            oldest = datetime.fromisoformat(everything["entries"][-1]["at"])
            middle = everything["entries"][2]["at"]
            since, until = _read(admin, since=middle), _read(admin, until=middle)
            first = _read(admin, limit="2")
            with app.client("vic") as vic:  # a record arrives between two pages
                assert vic.get("/api/v1/audit").status_code == 403
            second = _read(admin, limit="2", before=first["next"])
            third = _read(admin, limit="2", before=second["next"])
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this needs the admin role; vic is viewer"
    # Newest first, refused attempts included (vic's read of the log is the newest).
    assert _actions(everything) == [
        ("vic", "read_audit", "denied"),
        ("ana", "approve", "applied"),
        ("rob", "note", "applied"),
        ("vic", "ack", "denied"),
        ("rob", "ack", "applied"),
    ]
    assert everything["next"] is None
    ack = everything["entries"][-1]
    assert {k: ack[k] for k in ("role", "kind", "via", "address", "target", "incident")} == {
        "role": "responder",
        "kind": "user",
        "via": "cli",
        "address": "127.0.0.1",
        "target": "INC-1",
        "incident": "INC-1",
    }
    assert oldest.tzinfo is not None
    assert _actions(by_filter["actor"]) == [("rob", "note", "applied"), ("rob", "ack", "applied")]
    assert _actions(by_filter["action"]) == [("vic", "ack", "denied"), ("rob", "ack", "applied")]
    # The incident's target takes its approval (INC-1:switch_channel) too; the read does not.
    assert _actions(by_filter["target"]) == _actions(everything)[1:]
    assert _actions(by_filter["outcome"]) == [
        ("vic", "read_audit", "denied"),
        ("vic", "ack", "denied"),
    ]
    assert _actions(by_filter["via"]) == [("rob", "ack", "applied")]
    cut = datetime.fromisoformat(middle)
    times = [(datetime.fromisoformat(e["at"]), e["id"]) for e in everything["entries"]]
    assert [e["id"] for e in since["entries"]] == [i for at, i in times if at >= cut]
    assert [e["id"] for e in until["entries"]] == [i for at, i in times if at < cut]
    # Paging: two, two, one, and nothing twice or left out, though a record came meanwhile.
    assert [len(p["entries"]) for p in (first, second, third)] == [2, 2, 1]
    assert third["next"] is None
    paged = [e["id"] for p in (first, second, third) for e in p["entries"]]
    assert paged == [e["id"] for e in everything["entries"]]
    # The note quoted the shared token: no field of any record carries it.
    assert SHARED not in raw
    [note] = [e for e in everything["entries"] if e["action"] == "note"]
    assert note["detail"] == "the old token was [redacted]"

    # The service rebuilt on the same database still lists every record.
    with serve(url) as again, again.client() as admin:
        after = _read(admin)
    assert after["entries"][1:] == everything["entries"]
    assert _actions(after)[0] == ("vic", "read_audit", "denied")


def test_a_secret_in_a_stored_record_is_not_shown(url: str) -> None:
    """A record written before its secret was configured (straight into the table here) is
    cleaned on the way out."""
    with serve(url) as app:
        db = create_engine(url)
        try:
            with db.begin() as conn:
                record = AuditRecord("note", "incident", "INC-9", f"x{SHARED}", "user", "api")
                row = record.settled("applied", f"because {SHARED}").row(datetime.now(UTC))
                conn.execute(insert(t.audit).values(**{**row, "detail": f"{SHARED}!"}))
        finally:
            db.dispose()
        with app.client() as admin:
            raw = admin.get("/api/v1/audit").text
            [entry] = _read(admin)["entries"]
    assert SHARED not in raw
    assert (entry["actor"], entry["reason"], entry["detail"]) == (
        "x[redacted]",
        "because [redacted]",
        "[redacted]!",
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit: '0' is not a whole number of at least 1"),
        ("limit=1001", "limit: 1001 is more than the most, 1000"),
        ("limit=ten", "limit: 'ten' is not a whole number of at least 1"),
        ("before=-3", "before: '-3' is not a whole number of at least 1"),
        ("outcome=done", "outcome: 'done' is not one of pending, applied, refused, denied"),
        ("via=fax", "via: 'fax' is not one of web, api, cli, slack, pagerduty"),
        ("since=yesterday", "since: 'yesterday' is not an RFC 3339 time"),
        ("until=2026-13-01T00:00:00Z", "until: '2026-13-01T00:00:00Z' is not an RFC 3339 time"),
        (
            "since=2026-12-08T10:00:00Z&until=2026-12-08T09:00:00Z",
            "until: must be after since",
        ),
        ("who=rob", "who: unknown parameter; known: actor, action, target"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_parameter(url: str, query: str, message: str) -> None:
    with serve(url) as app, app.client() as admin:
        answer = admin.get(f"/api/v1/audit?{query}")
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(message)
