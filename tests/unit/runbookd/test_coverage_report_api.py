"""Which rules never fire (issue 17 §7), through the real app on SQLite or PostgreSQL: alerts
sent as Alertmanager sends them, then ``GET /api/v1/reports/coverage`` and the ``/reports`` page
name the runbook and the trigger that did nothing and the alertnames no runbook took."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbookd.config.settings import load_settings
from runbookd.server.app import create_app
from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import poll
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.live_app import live

TOKEN = "coverage-report-token-3a9"

_RUNBOOK = """
runbook: 1
id: {id}
title: {title}
team: ops
section: "{section}"
classification: {{nature: infrastructure, scope: local, complexity: simple}}
detection:
  group_by: [labels.instance]
  triggers:
{triggers}
escalation:
  levels:
    - {{id: oncall, who: ops, ack_within: 15m, connector: http, params: {{method: POST, url: "http://127.0.0.1:9/page"}}}}
"""


def _runbook(rid: str, title: str, section: str, *triggers: tuple[str, str]) -> str:
    lines = "\n".join(
        f"    - {{id: {tid}, match: {{field: name, eq: {name}}}}}" for tid, name in triggers
    )
    return _RUNBOOK.format(id=rid, title=title, section=section, triggers=lines)


@contextmanager
def _serve(tmp_path: Path, extra: str = "") -> Iterator[httpx.Client]:
    (tmp_path / "host.yaml").write_text(
        _runbook("host-down", "Host down", "10.1", ("down", "HostDown"), ("dark", "HostDark"))
    )
    (tmp_path / "disk.yaml").write_text(
        _runbook("disk-full", "Disk full", "10.2", ("full", "DiskFull"))
    )
    with database_url(tmp_path) as url:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"database_url: {url}\ndata_dir: {tmp_path / 'data'}\n"
            f"runbooks: [{tmp_path / 'host.yaml'}, {tmp_path / 'disk.yaml'}]\n"
            f"engine: {{dry_run: true}}\nauth: {{bearer_token: {TOKEN}}}\n{extra}"
        )
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOKD_")}
        app = create_app(load_settings(config, environ), config=config)
        with (
            live(app) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
            ) as http,
        ):
            yield http


def _send(http: httpx.Client, *names: str) -> None:
    alerts = [am_alert({"alertname": n, "instance": f"h{i}"}) for i, n in enumerate(names)]
    answer = http.post("/api/v1/alerts/alertmanager", json=am_notification(alerts))
    assert answer.status_code == 202, answer.text


def _recorded(http: httpx.Client, n: int) -> None:
    def enough() -> bool:
        return len(http.get("/api/v1/alerts").json()["alerts"]) >= n

    poll(enough, what=f"{n} alert outcomes")


def test_the_report_names_what_never_fired_and_what_came_without_a_runbook(
    tmp_path: Path,
) -> None:
    with _serve(tmp_path) as http:
        _send(http, "HostDown", "KafkaLag", "KafkaLag", "CertExpiring")
        _recorded(http, 4)
        report: dict[str, Any] = http.get("/api/v1/reports/coverage").json()
        # The default period (30 days) is what the default retention keeps: complete.
        assert report["alerts_complete"] is True

        assert report["never_fired"] == ["disk-full"]
        # host-down fired by its first trigger only; disk-full's trigger did nothing either.
        assert report["silent_triggers"] == [
            {"runbook": "disk-full", "trigger": "full"},
            {"runbook": "host-down", "trigger": "dark"},
        ]
        names = [(u["name"], u["alerts"]) for u in report["unmatched"]]
        assert names == [("KafkaLag", 2), ("CertExpiring", 1)]
        host = next(r for r in report["runbooks"] if r["id"] == "host-down")
        assert (host["incidents"], host["alerts"]) == (1, 1)
        assert host["triggers"] == [
            {"trigger": "down", "incidents": 1},
            {"trigger": "dark", "incidents": 0},
        ]

        # A period that ends before the alerts came: nothing fired, nothing arrived.
        before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        empty = http.get("/api/v1/reports/coverage", params={"until": before}).json()
        # (listed in plan order: section 10.1 before 10.2)
        assert empty["never_fired"] == ["host-down", "disk-full"] and empty["unmatched"] == []

        page = http.get("/reports")
        assert page.status_code == 200
        assert "Runbooks and triggers that never fired" in page.text
        assert "disk-full" in page.text and "KafkaLag" in page.text


@pytest.mark.parametrize(
    ("params", "wanted"),
    [
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "since: "),
        ({"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since: the period"),
    ],
)
def test_a_bad_period_is_a_400_naming_since(
    tmp_path: Path, params: dict[str, str], wanted: str
) -> None:
    with _serve(tmp_path) as http:
        answer = http.get("/api/v1/reports/coverage", params=params)
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"].startswith(wanted)


def test_the_report_says_when_retention_cut_the_alert_counts(tmp_path: Path) -> None:
    with _serve(tmp_path, "retention: {alert_outcomes: 7d}\n") as http:
        recent = http.get("/api/v1/reports/coverage", params={"since": _ago(days=6)}).json()
        assert recent["alerts_complete"] is True
        older = http.get("/api/v1/reports/coverage", params={"since": _ago(days=8)}).json()
        assert older["alerts_complete"] is False
        kept = datetime.fromisoformat(older["alerts_kept_since"])
        assert abs(kept - (datetime.now(UTC) - timedelta(days=7))) < timedelta(minutes=5)


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()
