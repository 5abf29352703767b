"""Meta-monitoring against a real runbookd: what the rules and the dashboard read is exported.

A real `runbookd serve` handles an alert whose remediation target is down (so the connector
failure counters and the circuit gauge get samples), a malformed webhook and a good one; then its
/metrics must offer every runbookd metric, and every label, that deploy/prometheus/rules/runbookd.yml
and deploy/grafana/runbookd.json use. The health gauges the rules alert on are checked for what
they mean: the circuit opens, readiness drops during a storage outage and comes back.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy.engine import make_url

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import HOOK, REPO, T0, Database, Server, TcpProxy, channel_pair, free_port
from tests.e2e.harness import poll as poll_for
from tests.promql import (
    alert_rules,
    dashboard,
    dashboard_exprs,
    missing,
    parse_exposition,
    uses,
)

RUNBOOK = """
runbook: 1
id: meta-target-down
title: Remediation target down
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.key]
  triggers:
    - id: down
      match: {field: name, eq: MetaTargetDown}
handling:
  steps:
    - id: fix
      connector: http
      params: {method: POST, url: "{DEAD}/fix"}
      timeout: 2s
"""


def _alert(key: str) -> dict[str, object]:
    return am_notification(
        [am_alert({"alertname": "MetaTargetDown", "key": key}, starts_at=T0)],
        group_labels={"key": key},
    )


def test_rules_and_dashboard_use_only_exported_metrics_and_labels(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    port = free_port()
    dead = f"http://127.0.0.1:{port}"  # nothing listens yet: connection refused
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "target.yaml").write_text(RUNBOOK.replace("{DEAD}", dead))
    server = make_server(
        [folder],
        env={
            "RUNBOOKD_EXECUTOR__BREAKER_FAILURES": "1",
            "RUNBOOKD_EXECUTOR__BREAKER_OPEN_FOR": "1s",
        },
    )

    assert server.post(HOOK, _alert("k1")).status_code == 202
    assert server.post(HOOK, content=b"{not json").status_code == 400
    poll_for(
        lambda: (
            server.metric("runbookd_connector_circuit_open", connector="http", target=dead) == 1
        ),
        what="the dead target's circuit to show as open",
    )
    assert server.metric("runbookd_connector_calls_total", connector="http", outcome="failed") >= 1
    poll_for(lambda: server.metric("runbookd_ready") == 1, what="runbookd_ready to be 1")

    scraped = parse_exposition(server.get("/metrics").text)
    expressions = {f"rule {r['alert']}": str(r["expr"]) for r in alert_rules()}
    expressions |= {f"dashboard {k}": v for k, v in dashboard_exprs(dashboard()).items()}
    problems = missing(expressions, scraped)
    assert problems == [], "\n".join(problems)
    # Every metric the rules alert on has samples here, so its labels were checked too.
    alerted = set().union(*(uses(str(r["expr"])).metrics for r in alert_rules()))
    assert sorted(m for m in alerted if m not in scraped.labels) == []

    # The target comes back: the next call is the circuit's trial, it succeeds, the circuit
    # closes, and the gauge says so instead of vanishing (an alert on it resolves).
    with _answering(port):
        assert server.post(HOOK, _alert("k2")).status_code == 202
        poll_for(
            lambda: (
                server.metric("runbookd_connector_circuit_open", connector="http", target=dead) == 0
                and f'target="{dead}"' in server.get("/metrics").text
            ),
            what="the circuit to show as closed",
        )


@contextlib.contextmanager
def _answering(port: int) -> Iterator[None]:
    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Ok)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_readiness_gauge_follows_the_store(database: Database, tmp_path: Path) -> None:
    if database.is_postgres:
        url = make_url(database.url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        proxy.start()
        served = url.set(port=proxy.port).render_as_string(hide_password=False)

        @contextlib.contextmanager
        def outage() -> Iterator[None]:
            proxy.cut()
            try:
                yield
            finally:
                proxy.start()
    else:
        served = database.url + "?timeout=1"
        path = make_url(database.url).database or ""

        @contextlib.contextmanager
        def outage() -> Iterator[None]:
            # A writer that holds the lock: reads go on (WAL), alerts cannot be stored.
            holder = sqlite3.connect(path, timeout=5, isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                yield
            finally:
                holder.execute("ROLLBACK")
                holder.close()

    server = Server(Database(served, database.schema), [REPO / "runbooks"], tmp_path)
    server.start()
    try:
        assert server.post(HOOK, channel_pair("alipay")).status_code == 202
        poll_for(lambda: server.metric("runbookd_ready") == 1, what="runbookd_ready to be 1")
        poll_for(lambda: server.metric("runbookd_engine_applied_seq") > 0, what="a watermark")
        poll_for(lambda: server.metric("runbookd_inbox_depth") == 0, what="the inbox to drain")
        with outage():
            poll_for(
                lambda: server.metric("runbookd_ready") == 0,
                what="runbookd_ready to drop during the outage",
            )
            assert server.get("/readyz").status_code == 503
        poll_for(lambda: server.metric("runbookd_ready") == 1, what="runbookd_ready back at 1")
    finally:
        server.stop()
