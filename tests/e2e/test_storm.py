"""An alert storm: 10,000 alerts, as fast as runbookd takes them, from a rule flapping on 100 services.

While it lasts runbookd keeps answering its health checks; afterwards the inbox has drained, every
flap is an incident that opened and resolved, the restart step ran no more often than its rate
limit allows for each service, and the server's memory grew by a bounded amount. How fast the
storm went in is printed, not asserted: speed is the benchmarks' business (bench/).
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, select

from runbookd.store import tables as t
from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import HOOK, REPO, T0, Server, poll

SERVICES = 100
ROUNDS = 50  # each round: every service fires, then resolves -> 2 x 100 x 50 = 10,000 alerts
RATE_MAX, RATE_PER = 2, timedelta(seconds=15)
# Generous on purpose: it catches memory growing with every alert (10,000 incidents' worth of
# timelines held forever), not allocator noise. The figure measured is printed.
RSS_GROWTH_LIMIT_MB = 150


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def round_body(round_no: int, status: str) -> dict[str, object]:
    fired = T0 + timedelta(seconds=round_no)
    ended = fired if status == "resolved" else None
    alerts = [
        am_alert(
            {"alertname": "ServiceUnhealthy", "service": f"svc{n:03d}"},
            status=status,
            starts_at=fired,
            ends_at=ended,
        )
        for n in range(SERVICES)
    ]
    return am_notification(alerts, group_labels={"alertname": "ServiceUnhealthy"})


def allowed_runs(times: list[datetime]) -> int:
    ran: list[datetime] = []
    for at in sorted(times):
        if sum(1 for r in ran if at - r < RATE_PER) < RATE_MAX:
            ran.append(at)
    return len(ran)


def test_storm_of_10000_alerts(make_server: Any, httpserver: HTTPServer, tmp_path: Path) -> None:
    restarts: dict[str, int] = defaultdict(int)

    def restart(request: Any) -> Any:
        from werkzeug import Response

        restarts[request.path.split("/")[3]] += 1
        return Response('{"restarted": true}', content_type="application/json")

    httpserver.expect_request(
        re.compile(r"^/admin/services/[^/]+/restart$"), method="POST"
    ).respond_with_handler(restart)
    httpserver.no_handler_status_code = 500
    source = (REPO / "tests" / "runbooks" / "flapping-service.yaml").read_text()
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "flapping-service.yaml").write_text(
        source.replace("http://127.0.0.1:8082", httpserver.url_for("").rstrip("/"))
    )
    server: Server = make_server([folder])
    assert server.proc is not None
    pid = server.proc.pid

    health_failures: list[str] = []
    health_checks = 0
    done = threading.Event()

    def watch_health() -> None:
        nonlocal health_checks
        with httpx.Client(base_url=server.url, timeout=2) as client:
            while not done.is_set():
                try:
                    answer = client.get("/healthz")
                    if answer.status_code != 200:
                        health_failures.append(f"{answer.status_code} {answer.text[:100]}")
                except httpx.HTTPError as exc:
                    health_failures.append(repr(exc))
                health_checks += 1
                done.wait(0.1)  # a probe's period, like a kubelet's; not waiting for a result

    watcher = threading.Thread(target=watch_health)
    watcher.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            warm = client.post(HOOK, json=round_body(0, "firing"))
            assert warm.status_code == 202
            client.post(HOOK, json=round_body(0, "resolved"))
            poll(lambda: server.metric("runbookd_inbox_depth") == 0, what="warm-up drained")
            before = rss_mb(pid)
            started = datetime.now()
            for round_no in range(1, ROUNDS):
                for status in ("firing", "resolved"):
                    answer = client.post(HOOK, json=round_body(round_no, status))
                    assert answer.status_code == 202, answer.text
            sent_in = datetime.now() - started

        def drained() -> bool:
            unresolved = server.incidents(limit=1, status=["triggered", "acknowledged"])
            opened = server.metric("runbookd_incidents_opened_total", runbook="flapping-service")
            return not unresolved and opened == SERVICES * ROUNDS

        poll(drained, timeout=240, what="the inbox drained and every flap resolved")
    finally:
        done.set()
        watcher.join()

    after = rss_mb(pid)
    total = SERVICES * ROUNDS * 2
    assert (
        server.metric("runbookd_alerts_received_total", source="alertmanager", outcome="accepted")
        == total
    )
    assert health_checks > 0 and not health_failures, health_failures[:5]
    assert (
        server.metric("runbookd_incidents_opened_total", runbook="flapping-service")
        == SERVICES * ROUNDS
    )

    # Rate limits per service, from the times the service recorded each incident's opening.
    opened: dict[str, list[datetime]] = defaultdict(list)
    engine = create_engine(server.database.url)
    try:
        with engine.connect() as conn:
            for labels, at in conn.execute(select(t.incident.c.labels, t.incident.c.opened_at)):
                opened[labels["service"]].append(at)
    finally:
        engine.dispose()
    assert len(opened) == SERVICES
    expected = {service: allowed_runs(times) for service, times in opened.items()}
    # The last allowed restarts may still be in the executor's queue when the last flap resolves.
    poll(
        lambda: sum(restarts.values()) >= sum(expected.values()),
        what=f"{sum(expected.values())} restarts",
    )
    assert dict(restarts) == expected

    growth = after - before
    print(
        f"storm: {total} alerts sent in {sent_in}, RSS {before:.0f} -> {after:.0f} MB, "
        f"{health_checks} health checks"
    )
    assert growth < RSS_GROWTH_LIMIT_MB, f"RSS grew {growth:.0f} MB over the storm"
