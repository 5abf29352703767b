"""The engine thread: applies journal entries in order and commits their effects atomically.

The engine (``engine.runtime.Engine``) is a deterministic state machine: given the same inputs at
the same clock readings it makes the same decisions, incident ids included. So the source of truth
is the inputs -- the journal, plus an ``engine_tick`` row for every time it fired due timers --
and a watermark ``engine_state.applied_seq``. For each batch, ONE transaction stores the commands
(outbox for connector calls, timeline for everything), the incident rows they touched, the ticks
and the new watermark.

On start the thread rebuilds the engine on a virtual clock: from the newest usable snapshot (see
``runbookd.service.snapshots``; taken every so often right after a batch's commit) plus the entries and
ticks after it, or, without one, by replaying every applied entry and tick. Replayed commands are
discarded (their effects are already stored); then it continues with what is not applied yet. A
crash at any instant therefore loses nothing and repeats nothing: the journal has every accepted
input, a batch's effects are either all stored with its watermark or not at all, and a snapshot
is only the state some stored watermark describes (one that is missing, half-written or unusable
just means a longer replay). A timer that came due while the process was down fires once, at the
first tick after the restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from runbookd.engine.clock import Clock, SystemClock, VirtualClock
from runbookd.engine.commands import Command
from runbookd.engine.errors import EngineError
from runbookd.engine.executor import Work
from runbookd.engine.keys import IncidentIds
from runbookd.engine.rules import Matcher
from runbookd.engine.runtime import Engine as RulesEngine
from runbookd.service.actions import apply_action
from runbookd.service.allocator import Trimmer
from runbookd.service.approvals import APPROVAL_KINDS, ApprovalsView
from runbookd.service.audit import AUDITED_KINDS, settle
from runbookd.service.effects import store_effects
from runbookd.service.following import Following
from runbookd.service.journal import compile_payload, read_entries, read_ticks
from runbookd.service.lease import Lease, LeaseLost
from runbookd.service.retention import OutcomeRetention
from runbookd.service.snapshots import SnapshotPolicy, Snapshots
from runbookd.service.waiters import Applied, Waiters
from runbookd.store import tables as t
from runbookd.store.codec import event_from_dict

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Longest time the stored watermark may trail batches that had no effect.
WATERMARK_EVERY_S = 1.0


class Worker(Following):
    def __init__(
        self,
        db: Engine,
        *,
        dry_run: bool = False,
        batch_max: int = 500,
        wall: Clock | None = None,
        on_work: Callable[[list[Work]], None] | None = None,
        on_applied: Callable[[list[Command], float], None] | None = None,
        on_tick: Callable[[float], None] | None = None,
        lock: threading.Lock | None = None,
        snapshots: SnapshotPolicy | None = None,
        fence: Lease | None = None,
        on_role: Callable[[bool], None] | None = None,
        follow_every: float = 0.25,
        outcome_retention: timedelta | None = None,
    ) -> None:
        #: shared with the journal writer (see Writer): one writer at a time on the database
        self._write_lock = lock or threading.Lock()
        self._db = db
        self._dry_run = dry_run
        self._batch_max = batch_max
        self._wall = wall or SystemClock()
        self._on_work = on_work
        self._on_applied = on_applied
        self._on_tick = on_tick
        #: replicas (cluster.enabled): the engine lease; None = the only process on its store
        self._fence = fence
        self._on_role = on_role
        self._follow_every = follow_every
        #: the epoch this thread leads at; None while it follows (always None without a fence)
        self.leading: int | None = None
        #: the last engine_tick row applied (a follower applies the leader's as they come)
        self._tick_id = 0
        #: times this replica became the leader at a new epoch
        self.failovers = 0
        self._watching = False
        self._last_epoch: int | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._waiters = Waiters()
        self._trimmer = Trimmer()
        self.outcome_retention = OutcomeRetention(outcome_retention)  # settings retention.*
        self._thread: threading.Thread | None = None
        self.applied_seq = 0
        self.library_digest: str | None = None
        self.running = False
        self.last_error: str | None = None
        #: approvals waiting for a person, as of the last commit (read by the API thread)
        self.approvals: list[dict[str, Any]] = []
        self._approvals = ApprovalsView()
        self._saved_at = 0.0
        # The shared write lock (see Writer), the one this thread's commits take too.
        self.snapshots = Snapshots(db, self._write_lock, snapshots)
        self._new_engine()

    # --- lifecycle ------------------------------------------------------------------------

    def _new_engine(self) -> None:
        self.clock = VirtualClock(EPOCH)
        # No retention until the journal's library entry sets it; no in-memory timelines (the
        # store keeps them, the API reads them there).
        self.engine = RulesEngine(
            [],
            self.clock,
            matcher=Matcher(),
            dry_run=self._dry_run,
            id_factory=self._ids(),
            retention=None,
            keep_timelines=False,
        )

    @staticmethod
    def _ids() -> Callable[[], str]:
        return IncidentIds()

    def recover(self) -> int:
        """Rebuild the engine (snapshot + journal tail); returns how many entries were replayed."""
        self._new_engine()
        self.snapshots.forget()
        self.library_digest = None
        with self._db.begin() as conn:
            row = conn.execute(select(t.engine_state.c.applied_seq).where(t.engine_state.c.id == 1))
            applied = row.scalar()
        if applied is None:
            try:
                with self._db.begin() as conn:
                    conn.execute(
                        insert(t.engine_state).values(
                            id=1, applied_seq=0, updated_at=self._wall.now()
                        )
                    )
            except IntegrityError:  # a replica starting at the same moment made it first
                pass
            applied = 0
        self.applied_seq = int(applied)
        start, after_tick = 0, 0
        restored = self.snapshots.restore_newest(self.applied_seq, EPOCH, self._dry_run)
        if restored is not None:
            self.engine, self.clock = restored.engine, restored.clock
            self.library_digest = restored.library_digest
            start, after_tick = restored.applied_seq, restored.tick_id
        self._tick_id = after_tick
        count = 0
        with self._db.connect() as conn:
            ticks = read_ticks(conn, after_tick, self.applied_seq)
            tick = next(ticks, None)
            # Ticks before the first replayed entry: with a snapshot, those that came after it
            # (the engine fired timers with no new entry); from seq 0, none can matter (no
            # runbooks are loaded before the first entry).
            while tick is not None and tick[0] <= start:
                if start:
                    self._tick(tick[1])
                self._tick_id = tick[2]
                tick = next(ticks, None)
            for seq, kind, at, payload in read_entries(conn, start, self.applied_seq):
                self._apply(seq, kind, at, payload)
                count += 1
                while tick is not None and tick[0] == seq:
                    self._tick(tick[1])
                    self._tick_id = tick[2]
                    tick = next(ticks, None)
        self.approvals = self._approvals.rows(self.engine)
        return count

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="runbookd-engine", daemon=True)
        self.running = True
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._thread is None or not self._thread.is_alive():
            self._final_snapshot()
        self.running = False

    def _final_snapshot(self) -> None:
        """On a clean stop, store the state as of the last applied entry: the next start then
        replays nothing. Skipped after a store failure (memory may be ahead of the store)."""
        if self.last_error is not None or self.applied_seq <= self.snapshots.last_seq:
            return
        if self._watching or (self._fence is not None and self.leading is None):
            return  # a follower (or the ingest role) stores nothing
        if not self.snapshots.policy.every_entries:
            return
        try:
            # Entries applied since the last stored watermark had no effect (see _step), so
            # storing the watermark alone is exactly what the next batch would have done.
            self._commit([], self.applied_seq, [])
        except Exception as exc:
            log.warning("could not store the watermark on stop: %s: %s", type(exc).__name__, exc)
            return
        self.snapshots.take(self.engine, self.applied_seq, self.library_digest, self._wall.now())

    def notify(self, _seq: int = 0) -> None:
        """Something was journaled: wake up (called from the writer thread)."""
        self._wake.set()

    def wait_applied(self, seq: int) -> Future[Applied]:
        """A future that completes when the entry ``seq`` has been applied and committed."""
        future = self._waiters.wait(seq, self.applied_seq)
        self._wake.set()
        return future

    def _resolve_waiters(self, outcomes: list[Applied]) -> None:
        self._waiters.resolve(outcomes, self.applied_seq)

    # --- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=self._sleep_for(backoff))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if backoff:  # the store failed: our memory may be ahead of it; start over
                    self.recover()
                    self._demote_quietly()
                if self._fence is not None and not self._lead_or_follow():
                    backoff = 0.0
                    self.last_error = None
                    continue
                while self._step():
                    pass
                # Resolved incidents leave memory on this thread; give their pages back.
                self._trimmer.maybe_trim()
                backoff = 0.0
                self.last_error = None
            except LeaseLost as exc:
                # Another replica leads now. Memory may hold this batch, which is not stored:
                # rebuild as a follower, from the store.
                log.warning("%s; following from now on", exc)
                backoff = 0.2
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "engine batch failed, will rebuild from the journal: %s", self.last_error
                )
                backoff = min(max(backoff * 2, 0.2), 5.0)

    def _sleep_for(self, backoff: float) -> float:
        if backoff:
            return backoff
        # Replicas: other processes write the journal and the leader's commits, and nothing
        # wakes this thread for them; look every follow_every.
        longest = 1.0 if self._fence is None else self._follow_every
        if self._fence is not None and self.leading is None:
            return longest
        due = self.engine.next_due()
        if due is None:
            return longest
        return min(max((due - self._wall.now()).total_seconds(), 0.0), longest)

    def _step(self) -> bool:
        """One batch: apply new entries and due timers, commit. True when there may be more."""
        with self._db.connect() as conn:
            rows = list(read_entries(conn, self.applied_seq, None, limit=self._batch_max))
        commands: list[Command] = []
        outcomes: list[Applied] = []
        #: people's actions: their audit records are settled in this batch's commit
        audited: list[Applied] = []
        started = time.perf_counter()
        received: datetime | None = None
        for seq, kind, at, payload in rows:
            produced, error = self._apply(seq, kind, at, payload)
            commands += produced
            outcomes.append(Applied(seq, error))
            if kind in AUDITED_KINDS:
                audited.append(outcomes[-1])
            received = received or at
        last = rows[-1][0] if rows else self.applied_seq
        ticks: list[tuple[int, datetime]] = []
        due = self.engine.next_due()
        now = self._wall.now()
        if due is not None and due <= now:
            at = max(now, self.clock.now())
            commands += self._tick(at)
            ticks.append((last, at))
            if self._on_tick is not None:
                self._on_tick((at - due).total_seconds())
        if not rows and not ticks:
            return False
        if commands or ticks or audited or time.monotonic() - self._saved_at > WATERMARK_EVERY_S:
            work = self._commit(commands, last, ticks, audited)
            self._saved_at = time.monotonic()
            # The calls go to the executor first: it runs on another thread, and what follows
            # (a snapshot above all) would otherwise hold them back for tens of milliseconds.
            if work and self._on_work is not None:
                self._on_work(work)
            self._after_commit(last)
        # else: entries with no effect. Their watermark is stored with the next effect (or
        # within a second); replaying them after a crash is harmless, they change nothing stored.
        self.applied_seq = last
        if any(c.kind in APPROVAL_KINDS for c in commands):
            self.approvals = self._approvals.rows(
                self.engine, {c.incident for c in commands if c.incident}
            )
        self._resolve_waiters(outcomes)
        if self._on_applied is not None:
            self._on_applied(commands, time.perf_counter() - started)
        return len(rows) == self._batch_max

    def _after_commit(self, seq: int) -> None:
        """The stored watermark is ``seq`` and the engine's state is exactly its state: the one
        moment a snapshot may be taken (it runs on this thread, which owns the state)."""
        if self.snapshots.due(seq):
            self.snapshots.take(self.engine, seq, self.library_digest, self._wall.now())
        self.outcome_retention.after_commit(self._db, self._write_lock, self._wall.now())

    def _apply(
        self, seq: int, kind: str, at: datetime, payload: dict[str, Any]
    ) -> tuple[list[Command], str | None]:
        self.clock.set(max(at, self.clock.now()))
        engine = self.engine
        try:
            if kind == "event":
                return engine.ingest(event_from_dict(payload)), None
            if kind == "call_result":
                return engine.call_finished(
                    payload["call_id"],
                    result=payload.get("result"),
                    error=payload.get("error"),
                    retryable=bool(payload.get("retryable")),
                    seconds=payload.get("seconds"),
                ), None
            if kind == "action":
                return apply_action(engine, payload), None
            if kind == "runbooks":
                compiled = compile_payload(payload)
                self.snapshots.register(seq, compiled)
                engine.set_runbooks(compiled)
                retention = payload.get("retention_s")
                engine.set_retention(None if retention is None else timedelta(seconds=retention))
                self.library_digest = payload.get("digest")
                return [], None
        except EngineError as exc:
            return [], str(exc)
        log.error("journal entry %d has unknown kind %r; skipped", seq, kind)
        return [], f"unknown journal entry kind {kind!r}"

    def _tick(self, at: datetime) -> list[Command]:
        self.clock.set(max(at, self.clock.now()))
        return self.engine.advance()

    # --- storage --------------------------------------------------------------------------

    def _commit(
        self,
        commands: list[Command],
        last: int,
        ticks: list[tuple[int, datetime]],
        audited: list[Applied] = [],  # noqa: B006  # read only
    ) -> list[Work]:
        """Store a batch's effects and watermark (``runbookd.service.effects``), and settle the
        audit records of the people's actions it applied."""
        with self._write_lock, self._db.begin() as conn:
            if self._fence is not None:
                if self.leading is None:
                    raise LeaseLost("a follower does not store engine effects")
                self._fence.check(conn, self.leading)
            settle(conn, audited)
            return store_effects(
                conn, commands, last, ticks, self.engine.incidents, self._wall.now()
            )

    def journal_size(self) -> int:
        with self._db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.journal)).scalar() or 0)
