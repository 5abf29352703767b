"""Two real Alertmanagers as an HA pair sending to one runbookd: one incident per problem, each
remediation step run once, and a resolve that both deliver resolves once.

Alerts are pushed to both instances through their v2 API, as Prometheus does when it is given two
Alertmanagers. Clustered, the pair gossips and usually sends each notification once; unclustered
(what many run by mistake) every notification arrives twice, and runbookd must absorb the copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Alertmanager, Receiver, Server, free_port, poll, runbook_copy

SERVICES = ["cart", "checkout", "search"]

AM_CONFIG = """
route:
  receiver: runbookd
  group_by: [service]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: runbookd
    webhook_configs:
      - url: http://127.0.0.1:{port}/api/v1/alerts/alertmanager
        send_resolved: true
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    yield target
    target.close()


def start_pair(home: Path, runbookd_port: int, clustered: bool) -> list[Alertmanager]:
    config = AM_CONFIG.format(port=runbookd_port)
    pair = [Alertmanager(home / "am-a", config), Alertmanager(home / "am-b", config)]
    if clustered:
        gossip = [free_port(), free_port()]
        for me, other in ((0, 1), (1, 0)):
            pair[me].cluster = [
                f"--cluster.listen-address=127.0.0.1:{gossip[me]}",
                f"--cluster.advertise-address=127.0.0.1:{gossip[me]}",
                f"--cluster.peer=127.0.0.1:{gossip[other]}",
                # How long the second in line waits for the first's notification to be gossiped
                # before sending its own; short, so a lost gossip shows within the test.
                "--cluster.peer-timeout=3s",
                "--cluster.gossip-interval=100ms",
                "--cluster.pushpull-interval=1s",
            ]
    for am in pair:
        am.start()
    if clustered:

        def settled() -> bool:
            for am in pair:
                status = httpx.get(am.url + "/api/v2/status", timeout=2).json()
                cluster = status["cluster"]
                if cluster["status"] != "ready" or len(cluster.get("peers") or []) != 2:
                    return False
            return True

        poll(settled, 30, "the Alertmanager cluster to settle")
    return pair


def push(pair: list[Alertmanager], alerts: list[dict[str, Any]]) -> None:
    """What Prometheus does with two Alertmanagers configured: the same alerts to each."""
    for am in pair:
        answer = httpx.post(am.url + "/api/v2/alerts", json=alerts, timeout=5)
        assert answer.status_code == 200, answer.text


def service_alerts(started: datetime, ended: datetime | None = None) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = []
    for service in SERVICES:
        alert: dict[str, Any] = {
            "labels": {"alertname": "HaServiceDown", "service": service, "severity": "page"},
            "annotations": {"summary": f"{service} is down"},
            "startsAt": started.isoformat(),
        }
        if ended is not None:
            alert["endsAt"] = ended.isoformat()
        alerts.append(alert)
    return alerts


@pytest.mark.parametrize("clustered", [True, False], ids=["clustered", "unclustered"])
def test_ha_pair_one_incident_one_remediation_one_resolve(
    clustered: bool,
    make_server: Callable[..., Server],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    port = free_port()
    pair = start_pair(tmp_path, port, clustered)
    try:
        library = runbook_copy(
            "ha-pair.yaml", tmp_path / "library", {"127.0.0.1:8084": f"127.0.0.1:{receiver.port}"}
        )
        server = make_server(runbooks=[library], port=port)
        started = datetime.now(UTC) - timedelta(seconds=5)
        push(pair, service_alerts(started))

        def all_remediated() -> bool:
            return set(receiver.by("/fix/")) == set(SERVICES)

        poll(all_remediated, 40, "every service remediated")
        # Unclustered, the second copy of each notification is what the test is about: wait for
        # runbookd to have seen both instances' deliveries before counting.
        copies = 2 if not clustered else 1
        poll(
            lambda: received(server) >= copies * len(SERVICES),
            40,
            f"{copies} deliveries of each alert",
        )
        incidents = server.incidents()
        assert sorted(i["labels"]["service"] for i in incidents) == SERVICES
        for prefix in ("/fix/", "/page/"):
            calls = receiver.by(prefix)
            assert sorted(calls) == SERVICES, prefix
            for service, made in calls.items():
                assert len(made) == 1, (prefix, service, made)  # raw: one request
                assert len({c.idempotency_key for c in made}) == 1

        # The problem ends: Prometheus sends the alerts with endsAt to both instances.
        before = received(server)
        push(pair, service_alerts(started, ended=datetime.now(UTC)))

        def all_resolved() -> list[dict[str, Any]] | None:
            found = server.incidents()
            return found if all(i["status"] == "resolved" for i in found) else None

        resolved = poll(all_resolved, 40, "every incident resolved")
        poll(
            lambda: received(server) >= before + copies * len(SERVICES),
            40,
            f"{copies} resolved deliveries of each alert",
        )
        assert len(server.incidents()) == len(SERVICES)  # a resolve opened nothing new
        for incident in resolved:
            timeline = server.incident(incident["id"])["timeline"]
            kinds = [e["kind"] for e in timeline]
            assert kinds.count("resolve") == 1, kinds
            assert kinds.count("open_incident") == 1, kinds
        # Nothing was called again by the second delivery of anything.
        assert sum(len(c) for c in receiver.by("/fix/").values()) == len(SERVICES)
        assert sum(len(c) for c in receiver.by("/page/").values()) == len(SERVICES)
    finally:
        for am in pair:
            am.stop()


def received(server: Server) -> float:
    """Alerts in notifications runbookd got: stored ones plus those it knew already."""
    return sum(
        server.metric("runbookd_alerts_received_total", source="alertmanager", outcome=outcome)
        for outcome in ("accepted", "duplicate")
    )
