"""Crash safety: SIGKILL mid-stream loses nothing accepted and repeats nothing; deadlines that
pass while the server is down fire once after it returns."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

from runbookd.store import tables as t
from tests.e2e.harness import HOOK, REPO, Server, channel_pair, poll


def count(server: Server, table: object, *where: object) -> int:
    engine = create_engine(server.database.url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(table).where(*where)).scalar() or 0
            )  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_sigkill_mid_stream_loses_nothing_and_repeats_nothing(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    accepted: list[str] = []
    stop = threading.Event()

    def send() -> None:
        i = 0
        with httpx.Client(timeout=5) as client:
            while not stop.is_set() and i < 400:
                channel = f"ch{i}"
                try:
                    r = client.post(server.url + HOOK, json=channel_pair(channel))
                except httpx.TransportError:
                    continue  # the server is down: Alertmanager would retry the same body
                if r.status_code == 202:
                    accepted.append(channel)
                    i += 1

    sender = threading.Thread(target=send)
    sender.start()
    poll(lambda: len(accepted) >= 40, what="traffic before the kill")
    server.kill()
    server.start()
    sender.join(timeout=120)
    stop.set()
    assert len(accepted) == 400

    def all_open() -> list[dict[str, object]] | None:
        found = server.incidents(limit=1000)
        return found if len(found) == 400 else None

    incidents = poll(all_open, timeout=60, what="one incident per accepted channel")
    assert sorted(str(i["labels"]["channel"]) for i in incidents) == sorted(accepted)  # type: ignore[index]
    # Exactly once: one incident per key, one first-level page per incident.
    assert count(server, t.incident) == 400
    assert count(server, t.timeline, t.timeline.c.kind == "open_incident") == 400
    assert count(server, t.outbox, t.outbox.c.call_id.like("%payments-oncall%")) == 400


def test_deadline_passing_while_down_fires_once_after_restart(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    source = (REPO / "runbooks" / "03-payment" / "payment-channel-abnormal.yaml").read_text()
    # A 2 s acknowledgement deadline keeps the test short; everything else is the bundled runbook.
    (library / "payment.yaml").write_text(source.replace("ack_within: 5m", "ack_within: 2s"))
    server = make_server(runbooks=[library])
    server.post(HOOK, channel_pair("alipay"))
    [incident] = poll(lambda: server.incidents(), what="an incident")
    server.kill()
    opened = datetime.fromisoformat(str(incident["opened_at"]))
    # Stay down until the deadline has certainly passed.
    poll(lambda: (datetime.now(UTC) - opened).total_seconds() > 3, what="the deadline to pass")
    server.start()

    def escalations() -> list[dict[str, object]]:
        timeline = server.incident(str(incident["id"]))["timeline"]
        return [e for e in timeline if e["kind"] == "escalate"]

    [escalation] = poll(escalations, what="the escalation after restart")
    assert "payments-lead" in str(escalation["summary"])
    notified = [
        e
        for e in server.incident(str(incident["id"]))["timeline"]
        if e["kind"] == "notify" and "payments-lead" in str(e["summary"])
    ]
    assert len(notified) == 1
    # It fired late -- the process was down at the deadline -- and the lateness is measured.
    assert server.metric("runbookd_timer_lateness_seconds_sum") > 0.5
    # And a second restart replays it without firing it again.
    server.kill()
    server.start()
    poll(lambda: server.metric("runbookd_engine_replayed_entries") > 0, what="replay")
    assert len(escalations()) == 1
