"""Senders hear from the journal writer and the engine thread, and one that gave up waiting
breaks neither."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from runbookd.store import tables as t
from runbookd.store.writer import EntryJob, Writer
from tests.unit.postmortem.rig import Rig, database_url


def _note(text: str) -> EntryJob:
    payload = {"action": "note", "incident": "INC-1", "text": text, "by": "x"}
    return EntryJob(kind="action", payload=payload, at=datetime.now(UTC))


def _journaled(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.journal)).scalar() or 0)


def test_coroutines_get_their_own_seq_and_a_cancelled_one_stops_nobody(db: Engine) -> None:
    writer = Writer(db)
    writer.start()

    async def scenario() -> list[int]:
        gave_up = writer.submit_async(_note("nobody waits for this"))
        gave_up.cancel()
        waited = [writer.submit_async(_note(f"note {i}")) for i in range(20)]
        return list(await asyncio.gather(*waited))

    try:
        seqs = asyncio.run(scenario())
        # the writer still answers afterwards, threads included
        later = writer.submit(_note("after")).result(timeout=30)
    finally:
        writer.stop()

    assert len(set(seqs)) == 20
    assert later > max(seqs)
    assert _journaled(db) == 22  # the cancelled sender's entry is stored all the same


def test_a_request_that_stopped_waiting_does_not_stop_the_engine(tmp_path: Path) -> None:
    with database_url(tmp_path) as url:
        rig = Rig(url)
        try:
            rig.alert("PaymentFailureRateHigh", channel="alipay")
            rig.alert("PaymentChannelProbeFailed", channel="alipay")
            with rig.db.connect() as conn:
                next_seq = int(conn.execute(select(func.max(t.journal.c.seq))).scalar() or 0) + 1
            gave_up = rig.worker.wait_applied(next_seq)
            gave_up.cancel()  # what asyncio.wait_for's timeout does to it through wrap_future
            waiting = rig.worker.wait_applied(next_seq)

            rig.action(action="ack", incident="INC-1", by="alice")  # applies next_seq

            assert waiting.result(timeout=0).error is None
            assert rig.worker.engine.incidents["INC-1"].acked_by == "alice"
        finally:
            rig.db.dispose()
