"""Storage outage under load: a sender posts without pause while the database goes away.

During the outage every answer is 503 (never a 2xx for something not stored) and /readyz says the
store is down; when the database returns, the sender's retries -- the same bodies, as Alertmanager
re-sends them -- are all stored exactly once, with nobody doing anything.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from runbookd.store import tables as t
from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import HOOK, T0, Database, Server, TcpProxy, poll

OUTAGE_ANSWERS = 8  # answers the sender must get while the database is away

# Each alert opens an incident of its own, and nothing else: the test is about storage.
RUNBOOK = """
runbook: 1
id: outage-load
title: Service down (outage test)
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.service]
  triggers:
    - id: down
      match: {field: name, eq: OutageLoad}
"""


def outage_for(database: Database) -> tuple[str, Any]:
    """The URL the server must use, and a context manager that takes the database away."""
    if database.is_postgres:
        url = make_url(database.url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        proxy.start()

        @contextlib.contextmanager
        def cut() -> Iterator[None]:
            proxy.cut()
            try:
                yield
            finally:
                proxy.start()

        return url.set(port=proxy.port).render_as_string(hide_password=False), cut
    path = make_url(database.url).database or ""

    @contextlib.contextmanager
    def lock() -> Iterator[None]:
        # Another process holding the write lock: every write waits out its timeout, then fails.
        holder = sqlite3.connect(path, timeout=5, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    return database.url + "?timeout=1", lock


@dataclass
class Sender:
    """Posts one notification after another; each is re-sent until it gets a 2xx."""

    url: str
    answers: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, status)
    accepted: list[str] = field(default_factory=list)
    during_outage: Counter[int] = field(default_factory=Counter)
    outage: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        i = 0
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                key = f"svc{i:04d}"
                body = am_notification(
                    [am_alert({"alertname": "OutageLoad", "service": key}, starts_at=T0)]
                )
                while True:  # Alertmanager re-sends the same body until it gets a 2xx
                    in_outage = self.outage.is_set()
                    try:
                        status = client.post(self.url + HOOK, json=body).status_code
                    except httpx.TransportError:
                        status = 0
                    with self.lock:
                        if in_outage and self.outage.is_set():
                            self.during_outage[status] += 1
                    if status == 202:
                        break
                    if self.stop.is_set():
                        return
                with self.lock:
                    self.accepted.append(key)
                i += 1


def stored_alerts(server: Server) -> list[str]:
    engine = create_engine(server.database.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(t.journal.c.payload).where(t.journal.c.kind == "event"))
            return [str(p) for (p,) in rows]
    finally:
        engine.dispose()


def count_incidents(server: Server) -> int:
    engine = create_engine(server.database.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.incident)).scalar() or 0)
    finally:
        engine.dispose()


def test_outage_under_load_refuses_then_stores_every_retry_once(
    database: Database, tmp_path: Path
) -> None:
    served, outage = outage_for(database)
    library = tmp_path / "library"
    library.mkdir()
    (library / "outage.yaml").write_text(RUNBOOK)
    server = Server(Database(served, database.schema), [library], tmp_path)
    server.start()
    sender = Sender(server.url)
    thread = threading.Thread(target=sender.run)
    thread.start()
    try:
        poll(lambda: len(sender.accepted) >= 20, what="traffic before the outage")
        with outage():
            sender.outage.set()
            poll(
                lambda: sum(sender.during_outage.values()) >= OUTAGE_ANSWERS,
                30,
                f"answers during the outage ({sender.during_outage})",
            )
            ready = server.get("/readyz")
            stuck_at = len(sender.accepted)
            sender.outage.clear()
        assert ready.status_code == 503, ready.text
        assert ready.json()["store"] is False
        with sender.lock:
            seen = dict(sender.during_outage)
        assert set(seen) <= {503}, seen  # never a 2xx for what could not be stored
        poll(lambda: len(sender.accepted) >= stuck_at + 20, 30, "traffic after the outage")
        poll(lambda: server.get("/readyz").status_code == 200, what="ready again")
        sender.stop.set()
        thread.join(timeout=30)
        # The engine caught up by itself: one incident per accepted alert.
        poll(
            lambda: count_incidents(server) == len(sender.accepted),
            60,
            "one incident per accepted alert",
        )
    finally:
        sender.stop.set()
        thread.join(timeout=30)
        server.stop()
    stored = stored_alerts(server)
    # Every accepted alert is in the journal exactly once.
    for key in sender.accepted:
        assert sum(f'"{key}"' in payload for payload in stored) == 1, key
    assert len(stored) == len(sender.accepted)
    print(
        f"outage under load ({'PostgreSQL' if database.is_postgres else 'SQLite'}): "
        f"{len(sender.accepted)} alerts accepted, {sum(seen.values())} answers during the "
        f"outage (all 503), {len(stored)} stored, 0 lost, 0 duplicated"
    )
