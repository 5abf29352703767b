"""A deterministic service core for post-mortem tests: the real journal, engine thread code and
tables, driven by a virtual wall clock, with connector results supplied by the test.

It stores an incident's records exactly as the running service does (``runbookd.service.worker``), so a
summary computed from them is the summary a user would get, with times the test controls.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from runbookd.engine.clock import VirtualClock
from runbookd.engine.events import Event
from runbookd.service.journal import library_payload
from runbookd.service.worker import Worker
from runbookd.store import db as store
from runbookd.store import tables as t
from runbookd.store.codec import dumps, loads
from runbookd.toolchain.testing import fingerprint
from tests.scratch_db import scratch_database

REPO = Path(__file__).resolve().parents[3]
PAYMENT = REPO / "runbooks" / "03-payment" / "payment-channel-abnormal.yaml"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
PG_URL = os.environ.get("RUNBOOKD_TEST_DATABASE_URL")

#: (call role, step or level id) -> (result or None, error or None, seconds the call took)
Reply = tuple[dict[str, Any] | None, str | None, float]


@contextmanager
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file, or a fresh schema in the PostgreSQL test database (dropped after)."""
    with scratch_database(PG_URL, f"sqlite:///{tmp_path / 'runbookd.db'}", "pm") as (url, _):
        yield url


@dataclass
class Rig:
    url: str
    runbooks: list[Path] = field(default_factory=lambda: [PAYMENT])
    #: the default reply of every connector call: ok, 0.5 s
    replies: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.db: Engine = store.make_engine(self.url)
        store.upgrade(self.db)
        self.wall = VirtualClock(T0)
        self.worker = Worker(self.db, wall=self.wall)
        self.worker.recover()
        files = [(str(p), p.read_text()) for p in self.runbooks]
        self._journal("runbooks", library_payload(files))

    # --- inputs -------------------------------------------------------------------------------

    def at(self, offset: timedelta) -> None:
        """Move the wall clock to T0 + offset, firing every timer at its own due time."""
        target = T0 + offset
        while (due := self.worker.engine.next_due()) is not None and due <= target:
            self.wall.set(max(due, self.wall.now()))
            self._run()
            self.execute()
        self.wall.set(target)
        self._run()
        self.execute()

    def alert(self, name: str, status: str = "firing", **labels: str) -> None:
        all_labels = {"alertname": name, **labels}
        event = Event(
            name=name,
            at=self.wall.now(),
            kind="alert",
            status="resolved" if status == "resolved" else "firing",
            labels=all_labels,
            fingerprint=fingerprint(all_labels),
            source="alertmanager",
            starts_at=T0,
        )
        self._journal("event", event.to_dict())
        self.execute()

    def action(self, **payload: Any) -> None:
        self._journal("action", payload)
        self.execute()

    def reply(self, role: str, step: str, *replies: Reply) -> None:
        self.replies[(role, step)] = list(replies)

    # --- the service's parts, run by hand ------------------------------------------------------

    def execute(self) -> None:
        """What the executor does: run each pending call (by the test's replies), journal it."""
        while True:
            with self.db.connect() as conn:
                rows = conn.execute(
                    select(t.outbox.c.call_id, t.outbox.c.payload)
                    .where(t.outbox.c.status == "pending")
                    .order_by(t.outbox.c.created_at, t.outbox.c.call_id)
                ).all()
            if not rows:
                return
            for call_id, payload in rows:
                data = loads(payload)
                key = (str(data.get("role")), str(data.get("step") or data.get("level")))
                queue = self.replies.get(key)
                result, error, seconds = queue.pop(0) if queue else ({}, None, 0.5)
                body: dict[str, Any] = {"call_id": call_id, "seconds": seconds}
                if error is None:
                    body["result"] = result or {}
                else:
                    body["error"], body["retryable"] = error, True
                with self.db.begin() as conn:
                    conn.execute(
                        update(t.outbox)
                        .where(t.outbox.c.call_id == call_id)
                        .values(
                            status="done" if error is None else "failed",
                            finished_at=self.wall.now(),
                        )
                    )
                self._journal("call_result", body)

    def _journal(self, kind: str, payload: Mapping[str, Any]) -> None:
        with self.db.begin() as conn:
            conn.execute(
                insert(t.journal).values(
                    kind=kind, at=self.wall.now(), payload=dumps(dict(payload))
                )
            )
        self._run()

    def _run(self) -> None:
        while self.worker._step():
            pass


def run_payment_outage(rig: Rig, *, approve: bool = True, ack: bool = False) -> None:
    """The 3.3 runbook's story: both signals, approval, recovery (the handled scenario's times)."""
    rig.reply("impact", "failed_payments", ({"value": 42}, None, 0.2))
    rig.reply(
        "step", "channel_status", (None, "connection refused", 0.25), ({"json": {}}, None, 0.75)
    )
    rig.alert("PaymentFailureRateHigh", channel="alipay")
    rig.at(timedelta(seconds=90))
    rig.alert("PaymentChannelProbeFailed", channel="alipay")
    rig.at(timedelta(minutes=2))
    if ack:
        rig.action(action="ack", incident="INC-1", by="alice")
    rig.at(timedelta(minutes=3))
    if approve:
        rig.action(action="decide", approval="INC-1:switch_channel", approved=True, by="bob")
    rig.at(timedelta(minutes=7))
    rig.alert("PaymentFailureRateHigh", status="resolved", channel="alipay")
    rig.at(timedelta(minutes=9))
    rig.alert("PaymentChannelProbeFailed", status="resolved", channel="alipay")
    rig.at(timedelta(minutes=10))
