"""Inhibition and silences with a real Alertmanager delivering to a real `runbookd serve` on the
bundled library (issue 17 §5, §6): while the database incident (10.3) is open, an order outage
(2.1) Alertmanager delivers is recorded as suppressed by it and opens nothing; an alert a
runbookd silence matches is recorded as silenced and opens nothing; one it does not match opens
its incident as always. Nothing Alertmanager sent is dropped: every alert has its outcome."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Alertmanager, Server, free_port, poll

AM_CONFIG = """
route:
  receiver: runbookd
  group_by: [alertname, instance, client]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: runbookd
    webhook_configs:
      - url: http://127.0.0.1:{port}/api/v1/alerts/alertmanager
        send_resolved: true
"""


@pytest.fixture
def delivering(
    make_server: Callable[..., Server], tmp_path: Path
) -> Iterator[tuple[Alertmanager, Server]]:
    """A real Alertmanager routing every alert to a `runbookd serve` on the bundled library."""
    port = free_port()
    am = Alertmanager(tmp_path / "am", AM_CONFIG.format(port=port))
    am.start()
    try:
        yield am, make_server(port=port)
    finally:
        am.stop()


def _fire(am: Alertmanager, *labels: dict[str, str]) -> None:
    alerts = [{"labels": lab, "annotations": {"summary": lab["alertname"]}} for lab in labels]
    assert httpx.post(am.url + "/api/v2/alerts", json=alerts, timeout=5).status_code == 200


def _outcome(server: Server, alertname: str) -> Callable[[], dict[str, Any] | None]:
    def found() -> dict[str, Any] | None:
        rows = server.get("/api/v1/alerts", params={"alertname": alertname}).json()["alerts"]
        return rows[0] if rows else None

    return found


def test_an_open_database_incident_suppresses_the_order_outage_alertmanager_sends(
    delivering: tuple[Alertmanager, Server],
) -> None:
    am, server = delivering
    db = {"instance": "pg-replica-2:9187", "severity": "warning"}
    _fire(
        am,
        {"alertname": "PostgresqlReplicationLag", **db},
        {"alertname": "PostgresqlTooManyConnections", **db},
    )
    [database] = poll(lambda: server.incidents(), what="the database incident")
    assert database["runbook"] == "database-abnormal"

    _fire(am, {"alertname": "OrderCreationDown", "client": "web", "severity": "critical"})
    held = poll(_outcome(server, "OrderCreationDown"), what="the order alert's outcome")
    assert held["outcome"] == "suppressed"
    assert held["incident"] == database["id"]
    assert database["id"] in held["summary"]
    # Suppressed, not dropped, and no second incident.
    assert [i["id"] for i in server.incidents()] == [database["id"]]


def test_a_silence_mutes_what_it_matches_of_what_alertmanager_sends(
    delivering: tuple[Alertmanager, Server],
) -> None:
    am, server = delivering
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    made = server.post(
        "/api/v1/silences",
        {
            "matchers": ['alertname="OrderCreationDown"', 'client="app"'],
            "endsAt": ends,
            "createdBy": "ana",
            "comment": "app release",
        },
    )
    assert made.status_code == 201, made.text
    silence = made.json()["id"]

    _fire(am, {"alertname": "OrderCreationDown", "client": "app", "severity": "critical"})
    muted = poll(_outcome(server, "OrderCreationDown"), what="the silenced alert's outcome")
    assert muted["outcome"] == "silenced" and silence in muted["summary"]
    assert server.incidents() == []

    # Another storefront is not in the silence: it pages as always.
    _fire(am, {"alertname": "OrderCreationDown", "client": "web", "severity": "critical"})
    [opened] = poll(lambda: server.incidents(), what="the unsilenced storefront's incident")
    assert opened["runbook"] == "order-creation-failed"
    assert opened["labels"]["client"] == "web"
