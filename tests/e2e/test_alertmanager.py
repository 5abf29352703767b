"""A real Alertmanager delivering to runbookd: truncated notifications are completed from its API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.harness import Alertmanager, Server, free_port, poll

AM_CONFIG = """
route:
  receiver: runbookd
  group_by: [alertname]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: runbookd
    webhook_configs:
      - url: http://127.0.0.1:{port}/api/v1/alerts/alertmanager
        send_resolved: true
        max_alerts: 1
"""


def test_truncated_alerts_are_fetched_from_alertmanager(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    port = free_port()
    am = Alertmanager(tmp_path / "am", AM_CONFIG.format(port=port))
    am.start()
    try:
        server = make_server(env={"RUNBOOKD_ALERTMANAGER__API_URL": am.url}, port=port)
        alerts = [
            {
                "labels": {"alertname": "HostHighCpuLoad", "instance": f"node-{i}:9100"},
                "annotations": {"summary": "CPU load is > 80%"},
            }
            for i in range(3)
        ]
        assert httpx.post(am.url + "/api/v2/alerts", json=alerts, timeout=5).status_code == 200
        # Alertmanager sends one alert (max_alerts: 1) and says two were cut; runbookd asks its
        # API for the group and stores the other two.
        poll(
            lambda: server.metric("runbookd_alertmanager_truncated_alerts_total") >= 2,
            what="a truncated notification",
        )
        poll(
            lambda: server.metric("runbookd_alertmanager_truncated_fetched_total") == 2,
            what="the cut alerts fetched from the API",
        )
        assert (
            server.metric(
                "runbookd_alerts_received_total", source="alertmanager", outcome="accepted"
            )
            == 1
        )
    finally:
        am.stop()
