"""On-call schedules on a real server: a page goes to whoever is on call, overrides made through
the API and the CLI win and survive a restart, and the iCalendar export is served (issue 18)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import Receiver, Server, poll

RUNBOOK = """
runbook: 1
id: payment-down
title: Payment channel down
team: payments
section: "3.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.channel]
  triggers:
    - match: {field: name, eq: PaymentDown}
escalation:
  levels:
    - id: primary
      schedule: payments-primary
      connector: http
      params:
        url: "RECEIVER/page/{{ oncall.person }}"
        json: {text: "{{ incident.title }}", slack: "{{ oncall.slack }}"}
"""

SCHEDULE = """
people:
  alice: {name: Alice Example, slack: U0ALICE}
  bob: {name: Bob Example, slack: U0BOB}
schedules:
  - id: payments-primary
    time_zone: Europe/Berlin
    layers:
      - id: everyone
        rotation: {length: 2w, handoff: "09:00", start: "2020-01-06"}
        members: [alice]
"""


def _setup(tmp_path: Path, receiver: Receiver) -> dict[str, str]:
    (tmp_path / "rb").mkdir()
    (tmp_path / "rb" / "payment-down.yaml").write_text(RUNBOOK.replace("RECEIVER", receiver.url))
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "payments.yaml").write_text(SCHEDULE)
    return {"RUNBOOKD_SCHEDULES": f"[{tmp_path / 'schedules'}]"}


def _cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbookd.cli.main", "oncall", *args, "--url", server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_pages_follow_overrides_which_survive_a_restart(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    receiver = Receiver()
    try:
        env = _setup(tmp_path, receiver)
        server = make_server([tmp_path / "rb"], env=env)
        now = server.get("/api/v1/oncall").json()["schedules"][0]
        assert (now["id"], now["now"]["person"], now["now"]["via"]) == (
            "payments-primary",
            "alice",
            "everyone",
        )
        start = datetime.now(UTC) - timedelta(minutes=5)
        made = _cli(
            server,
            "override",
            "payments-primary",
            "bob",
            "--start",
            start.isoformat(),
            "--end",
            (start + timedelta(hours=2)).isoformat(),
            "--reason",
            "swap with alice",
            "--by",
            "carol",
        )
        assert made.returncode == 0, made.stderr
        shown = _cli(server, "payments-primary")
        assert shown.returncode == 0, shown.stderr
        assert "on call now: Bob Example (bob, via override)" in shown.stdout
        assert "swap with alice" in shown.stdout
        assert "next: Alice Example (alice) from " in shown.stdout
        page = server.get("/oncall")
        assert page.status_code == 200
        assert "Now:\n<strong>Bob Example</strong> (override)" in page.text
        assert "Next:\n<strong>Alice Example</strong>" in page.text
        assert 'href="/api/v1/oncall/payments-primary/calendar.ics"' in page.text
        assert "<td>Bob Example</td><td>override</td>" in page.text
        assert "<td>Alice Example</td><td>everyone</td>" in page.text
        as_json = _cli(server, "payments-primary", "--json")
        assert json.loads(as_json.stdout)["schedules"][0]["now"]["slack"] == "U0BOB"

        bad = server.post(
            "/api/v1/oncall/payments-primary/overrides",
            {"person": "bbo", "start": start.isoformat(), "end": start.isoformat()},
        )
        assert bad.status_code == 422 and "person" in bad.json()["detail"]
        assert "did you mean 'bob'" in bad.json()["detail"]

        server.stop()
        server.start()  # the override is journaled: it is still there
        after = server.get("/api/v1/oncall", params={"schedule": "payments-primary"}).json()
        assert after["schedules"][0]["now"]["person"] == "bob"

        alert = am_alert({"alertname": "PaymentDown", "channel": "cards"})
        notification = am_notification([alert])
        assert server.post("/api/v1/alerts/alertmanager", notification).status_code == 202
        calls = poll(lambda: receiver.by("/page/"), what="the page")
        assert list(calls) == ["bob"]  # the override's person, reached through their contact
        incident = server.incidents()[0]
        timeline = server.incident(incident["id"])["timeline"]
        notify = poll(
            lambda: next(
                (r for r in server.incident(incident["id"])["timeline"] if r["kind"] == "notify"),
                None,
            ),
            what="the notify row",
        )
        assert "Bob Example" in str(notify), timeline

        override_id = after["schedules"][0]["overrides"][0]["id"]
        removed = _cli(server, "remove", "payments-primary", override_id, "--by", "carol")
        assert removed.returncode == 0, removed.stderr
        back = server.get("/api/v1/oncall").json()["schedules"][0]["now"]
        assert back["person"] == "alice"

        ics = server.get("/api/v1/oncall/payments-primary/calendar.ics", params={"days": 30})
        assert ics.status_code == 200
        assert ics.headers["content-type"].startswith("text/calendar")
        assert ics.text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
        assert "SUMMARY:Alice Example on call (payments-primary)" in ics.text
        printed = _cli(server, "calendar", "payments-primary")
        assert printed.returncode == 0 and printed.stdout.startswith("BEGIN:VCALENDAR")
        missing = server.get("/api/v1/oncall/nope/calendar.ics")
        assert missing.status_code == 404 and "schedule" in missing.json()["detail"]
    finally:
        receiver.close()
