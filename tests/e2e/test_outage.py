"""Storage outage: the webhook answers 503 (so Alertmanager retries) and recovers by itself."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.e2e.harness import HOOK, REPO, Database, Server, TcpProxy, channel_pair, poll


def test_storage_outage_gives_503_then_recovers(database: Database, tmp_path: Path) -> None:
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
        # A short lock timeout so that a held lock is an outage within a second.
        served = database.url + "?timeout=1"
        path = make_url(database.url).database or ""

        @contextlib.contextmanager
        def outage() -> Iterator[None]:
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
        with outage():
            refused = server.post(HOOK, channel_pair("wechat"))
            assert refused.status_code == 503
            assert "retry" in refused.json()["detail"]
        # Alertmanager retries the same notification; now it is stored and handled.
        retried = poll(
            lambda: (r := server.post(HOOK, channel_pair("wechat"))).status_code == 202 and r,
            what="ingest to recover",
        )
        assert retried.json() == {"accepted": 2, "duplicates": 0}
        found = poll(lambda: len(server.incidents()) == 2 and server.incidents(), what="incidents")
        assert sorted(i["labels"]["channel"] for i in found) == ["alipay", "wechat"]
        assert (
            server.metric(
                "runbookd_ingest_requests_rejected_total",
                source="alertmanager",
                reason="unavailable",
            )
            == 1
        )
        poll(lambda: server.get("/readyz").status_code == 200, what="ready again")
    finally:
        server.stop()
