"""Reloads, on-call overrides and follow-up edits are in the audit log like every other action,
and need their role: admin to reload (both routes) or override, responder to edit follow-ups.
The real app under uvicorn, users with tokens, SQLite or PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.unit.postmortem.rig import PAYMENT, database_url
from tests.unit.runbookd.audit_app import SHARED, outage, serve
from tests.unit.runbookd.test_audit_actions import audit_rows

SCHEDULE = """
people:
  alice: {name: Alice Example, slack: U0ALICE}
  bob: {name: Bob Example, slack: U0BOB}
schedules:
  - id: payments-primary
    time_zone: Europe/Berlin
    layers:
      - id: everyone
        rotation: {length: 1w, handoff: "09:00", start: "2020-01-06"}
        members: [alice]
"""


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with database_url(tmp_path) as found:
        yield found


def _what(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["actor"], r["action"], r["target"], r["outcome"]) for r in rows]


@pytest.mark.parametrize("route", ["/api/v1/runbooks/reload", "/-/reload"])
def test_a_reload_needs_the_admin_role_on_both_routes(url: str, route: str) -> None:
    with serve(url) as app, app.client("vic") as vic, app.client("ana") as ana:
        viewer, approver = vic.post(route), ana.post(route)
        with app.client() as admin:
            done = admin.post(route)
    assert (viewer.status_code, approver.status_code, done.status_code) == (403, 403, 200)
    assert viewer.json()["detail"] == "this needs the admin role; vic is viewer"
    assert approver.json()["detail"] == "this needs the admin role; ana is approver"
    target = "runbooks" if route.startswith("/api") else "config"
    rows = audit_rows(url)
    assert _what(rows) == [
        ("vic", "reload", target, "denied"),
        ("ana", "reload", target, "denied"),
        ("token", "reload", target, "applied"),
    ]
    assert rows[2]["detail"] == "reloaded: 1 runbooks running"
    assert rows[2]["kind"] == "token" and rows[2]["role"] == "admin"


def test_a_failed_reload_is_logged_with_its_error_count(url: str, tmp_path: Path) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    shutil.copy(PAYMENT, folder / PAYMENT.name)
    with serve(url, runbooks=[folder]) as app:
        # The file's name is the configured token: the error quotes the path, the log must not.
        (folder / f"{SHARED}.yaml").write_text("runbook: 1\nid: Not An Id\n")
        with app.client() as admin:
            answer = admin.post("/api/v1/runbooks/reload")
            errors = answer.json()["errors"]
    assert answer.status_code == 422
    [row] = audit_rows(url)
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    assert (row["action"], row["outcome"], row["reason"]) == ("reload", "failed", count)
    assert row["detail"].startswith(f"{count}; first: ")
    assert SHARED in errors[0]  # the caller, an admin, sees the path as it is
    assert SHARED not in row["detail"] and "[redacted].yaml" in row["detail"]


def test_overrides_made_and_removed_are_logged_and_need_admin(url: str, tmp_path: Path) -> None:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "payments.yaml").write_text(SCHEDULE)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    body = {
        "person": "bob",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=8)).isoformat(),
        "reason": f"alice at the dentist; pager token {SHARED}",
        "by": "carol",
    }
    with serve(url, schedules=(folder,)) as app:
        with app.client("ana") as ana:
            refused = ana.post("/api/v1/oncall/payments-primary/overrides", json=body)
        with app.client() as admin:
            made = admin.post("/api/v1/oncall/payments-primary/overrides", json=body)
            assert made.status_code == 201, made.text
            override = made.json()["id"]
            gone = admin.delete(f"/api/v1/oncall/payments-primary/overrides/{override}")
            again = admin.delete(f"/api/v1/oncall/payments-primary/overrides/{override}")
    assert (refused.status_code, gone.status_code, again.status_code) == (403, 200, 404)
    assert refused.json()["detail"] == "this needs the admin role; ana is approver"
    target = f"payments-primary/{override}"
    rows = audit_rows(url)
    assert _what(rows) == [
        ("ana", "override", "payments-primary", "denied"),
        ("carol", "override", target, "applied"),
        ("token", "override_remove", target, "applied"),
        ("token", "override_remove", target, "refused"),
    ]
    assert made.json()["reason"] == "alice at the dentist; pager token [redacted]"
    assert rows[1]["detail"] == (
        f"bob from {start.isoformat()} to {(start + timedelta(hours=8)).isoformat()}: "
        "alice at the dentist; pager token [redacted]"
    )
    assert rows[1]["journal_seq"] is not None and rows[2]["journal_seq"] is not None


def test_follow_up_edits_need_a_responder_and_are_logged(url: str) -> None:
    with serve(url) as app:
        outage(app)
        base = "/api/v1/incidents/INC-1/follow-ups"
        with app.client("vic") as vic:
            viewer = vic.post(base, json={"title": "add a probe", "by": "vic"})
        with app.client("rob") as rob:
            added = rob.post(base, json={"title": "add a probe", "by": "someone else"})
            assert added.status_code == 201, added.text
            item = added.json()["id"]
            changed = rob.patch(f"{base}/{item}", json={"status": "done", "by": "x"})
            removed = rob.delete(f"{base}/{item}")
            missing = rob.delete(f"{base}/{item}")
            secret = rob.post(base, json={"title": f"revoke {SHARED}", "by": "rob"})
            summary = rob.get("/api/v1/incidents/INC-1/postmortem?format=json").json()
            entries = rob.get("/api/v1/incidents/INC-1").json()["timeline"]
    assert viewer.status_code == 403
    assert viewer.json()["detail"] == "this needs the responder role; vic is viewer"
    assert (changed.status_code, removed.status_code, missing.status_code) == (200, 204, 404)
    assert added.json()["created_by"] == "rob"  # a known user is who they are
    assert changed.json()["status"] == "done"
    # The deleted item is gone; the one whose title quoted the token is kept redacted.
    assert [f["title"] for f in summary["follow_ups"]] == ["revoke [redacted]"]
    assert f"follow-up {item} deleted by rob: add a probe" in [e["summary"] for e in entries]
    target = f"INC-1/{item}"
    rows = audit_rows(url)
    assert _what(rows) == [
        ("vic", "follow_up_add", "INC-1", "denied"),
        ("rob", "follow_up_add", target, "applied"),
        ("rob", "follow_up_update", target, "applied"),
        ("rob", "follow_up_delete", target, "applied"),
        ("rob", "follow_up_add", f"INC-1/{secret.json()['id']}", "applied"),
    ]
    assert [r["detail"] for r in rows[1:]] == [
        "add a probe",
        "status='done'",
        "add a probe",
        "revoke [redacted]",
    ]
    assert all(r["incident_id"] == "INC-1" for r in rows)
