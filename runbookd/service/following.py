"""The engine thread's part in a cluster of replicas: follow the leader, take over, step down.

A follower keeps a hot engine: it applies the journal entries up to the watermark the leader
stored, and the leader's ticks, in the order the leader applied them, and discards the commands
(the leader stored their effects). Taking over then only catches up the tail. The engine is
deterministic, so the follower's state is the leader's state at that watermark, incident ids
included (docs/decisions.md "Replicas").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from runbookd.engine.commands import Command
from runbookd.engine.runtime import Engine as RulesEngine
from runbookd.service.approvals import ApprovalsView
from runbookd.service.journal import read_entries, read_ticks
from runbookd.service.lease import Lease
from runbookd.service.waiters import Applied
from runbookd.store import tables as t

log = logging.getLogger(__name__)

STORED_WATERMARK = select(t.engine_state.c.applied_seq).where(t.engine_state.c.id == 1)


class Following:
    """Mixed into ``Worker``: the attributes below are the worker's."""

    _db: Engine
    _fence: Lease | None
    _on_role: Callable[[bool], None] | None
    _follow_every: float
    _batch_max: int
    _stop: threading.Event
    _thread: threading.Thread | None
    _saved_at: float
    _tick_id: int
    _last_epoch: int | None
    _watching: bool
    _approvals: ApprovalsView
    leading: int | None
    failovers: int
    applied_seq: int
    running: bool
    approvals: list[dict[str, Any]]
    engine: RulesEngine

    def recover(self) -> int:
        raise NotImplementedError

    def _apply(
        self, seq: int, kind: str, at: datetime, payload: dict[str, Any]
    ) -> tuple[list[Command], str | None]:
        raise NotImplementedError

    def _tick(self, at: datetime) -> list[Command]:
        raise NotImplementedError

    def _resolve_waiters(self, outcomes: list[Applied]) -> None:
        raise NotImplementedError

    @property
    def role(self) -> str:
        """single (no replicas), leader or follower."""
        if self._fence is None:
            return "single"
        return "leader" if self.leading is not None else "follower"

    def _lead_or_follow(self) -> bool:
        """Before a round, with replicas: True to run it as the leader, False after following.

        The lease thread decides who holds the lease; this thread only reads it, so a change
        takes effect between batches, never inside one. A fenced commit would refuse a batch
        of a stale leader anyway; reading here saves doing the work."""
        assert self._fence is not None
        epoch = self._fence.epoch
        if self.leading is not None and epoch != self.leading:
            log.warning("engine lease lost at epoch %d; following", self.leading)
            self.recover()  # what memory holds past the stored watermark is not the truth
            self._set_role(None)
        if epoch is not None and self.leading is None:
            # Taking over: first everything the previous leader stored, as a follower would,
            # then on as the leader from the stored watermark.
            while self._follow():
                pass
            if epoch != self._last_epoch:
                self.failovers += 1
                self._last_epoch = epoch
            self._saved_at = 0.0
            self._set_role(epoch)
            log.info("engine leader at epoch %d from seq %d", epoch, self.applied_seq)
            return True
        if self.leading is not None:
            return True
        while self._follow():
            pass
        return False

    def _set_role(self, epoch: int | None) -> None:
        self.leading = epoch
        if self._on_role is not None:
            self._on_role(epoch is not None)

    def _demote_quietly(self) -> None:
        if self._fence is not None and self.leading is not None:
            self._set_role(None)

    def _follow(self) -> bool:
        """Apply what the leader has stored: journal entries up to its watermark and its ticks,
        in the order it applied them; their commands are discarded (the leader stored them).
        True when a full batch was read (more may wait)."""
        with self._db.connect() as conn:
            stored = conn.execute(STORED_WATERMARK).scalar() or 0
            rows = list(read_entries(conn, self.applied_seq, int(stored), self._batch_max))
            bound = rows[-1][0] if rows else max(self.applied_seq, int(stored))
            ticks = list(read_ticks(conn, self._tick_id, bound))
        pending = iter(ticks)
        tick = next(pending, None)
        outcomes: list[Applied] = []
        # A tick stored "after entry s" is applied after s and before the next entry.
        while tick is not None and tick[0] <= self.applied_seq:
            self._tick(tick[1])
            self._tick_id = tick[2]
            tick = next(pending, None)
        for seq, kind, at, payload in rows:
            while tick is not None and tick[0] < seq:
                self._tick(tick[1])
                self._tick_id = tick[2]
                tick = next(pending, None)
            _, error = self._apply(seq, kind, at, payload)
            outcomes.append(Applied(seq, error))
            self.applied_seq = seq
        while tick is not None:
            self._tick(tick[1])
            self._tick_id = tick[2]
            tick = next(pending, None)
        if rows or ticks:
            self.approvals = self._approvals.rows(self.engine)
        self._resolve_waiters(outcomes)
        return len(rows) == self._batch_max

    def watch(self) -> None:
        """The ingest role's stand-in for the engine thread: no engine, only the stored
        watermark, so that an API write sent here is answered once the leader applied it.
        Whether the leader refused it (an ack of a closed incident) is on the incident's
        timeline, not in this answer."""

        def run() -> None:
            while not self._stop.wait(self._follow_every):
                try:
                    with self._db.connect() as conn:
                        stored = conn.execute(STORED_WATERMARK).scalar() or 0
                except Exception as exc:  # the store is down: the writes are refused anyway
                    log.debug("watermark read failed: %s", type(exc).__name__)
                    continue
                self.applied_seq = max(self.applied_seq, int(stored))
                self._resolve_waiters([])

        self._watching = True
        self._thread = threading.Thread(target=run, name="runbookd-watermark", daemon=True)
        self.running = True
        self._thread.start()
