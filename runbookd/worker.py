"""The engine thread: applies journal entries in order and commits their effects atomically.

The engine (``engine.runtime.Engine``) is a deterministic state machine: given the same inputs at
the same clock readings it makes the same decisions, incident ids included. So the source of truth
is the inputs -- the journal, plus an ``engine_tick`` row for every time it fired due timers --
and a watermark ``engine_state.applied_seq``. For each batch, ONE transaction stores the commands
(outbox for connector calls, timeline for everything), the incident rows they touched, the ticks
and the new watermark.

On start the thread rebuilds the engine on a virtual clock: from the newest usable snapshot (see
``runbookd.snapshot``; taken every so often right after a batch's commit) plus the entries and
ticks after it, or, without one, by replaying every applied entry and tick. Replayed commands are
discarded (their effects are already stored); then it continues with what is not applied yet. A
crash at any instant therefore loses nothing and repeats nothing: the journal has every accepted
input, a batch's effects are either all stored with its watermark or not at all, and a snapshot
is only the state some stored watermark describes (one that is missing, half-written or unusable
just means a longer replay). A timer that came due while the process was down fires once, at the
first tick after the restart.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from engine.clock import Clock, SystemClock, VirtualClock
from engine.commands import WORK_KINDS, Command
from engine.compiler import CompiledRunbook, compile_runbook
from engine.errors import EngineError
from engine.executor import Work
from engine.incident import Incident
from engine.incident import Status as EngineStatus
from engine.keys import IncidentIds
from engine.lang.loader import load_text
from engine.rules import Matcher
from engine.runtime import Engine as RulesEngine
from engine.timing import RETENTION
from runbookd.allocator import Trimmer
from runbookd.snapshot import SnapshotPolicy, Snapshots
from runbookd.store import tables as t
from runbookd.store.codec import dumps, event_from_dict, loads

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Longest time the stored watermark may trail batches that had no effect.
WATERMARK_EVERY_S = 1.0
#: Commands after which the list of waiting approvals can differ.
_APPROVAL_KINDS = frozenset(
    {"request_approval", "decide_approval", "resolve", "step_outcome", "close", "reopen"}
)


@dataclass(frozen=True)
class Applied:
    """What became of one journal entry: None, or why a person's action was refused."""

    seq: int
    error: str | None


def library_payload(
    files: list[tuple[str, str]], retention: float = RETENTION.total_seconds()
) -> dict[str, Any]:
    """The journal form of a runbook library: file names and texts, so replay needs no files.

    It also carries the engine's memory retention in seconds (settings ``engine.retention``):
    journaled, so a replay drops resolved incidents from memory exactly when the first run did.
    Libraries journaled before retention existed have none, and replay keeps every incident up
    to them, as the version that wrote them did.
    """
    return {
        "files": [{"file": f, "text": text} for f, text in sorted(files)],
        "retention_s": retention,
    }


def compile_payload(payload: dict[str, Any]) -> list[CompiledRunbook]:
    out = []
    for item in payload["files"]:
        loaded, problems = load_text(item["text"], item["file"])
        if loaded is None:  # validated before it was journaled; a failure here is a bug
            raise RuntimeError(f"journaled runbook {item['file']} no longer loads: {problems}")
        out.append(compile_runbook(loaded.runbook))
    return out


def public_status(incident: Incident) -> str:
    """The API's lifecycle: triggered -> acknowledged -> mitigated -> resolved -> closed."""
    if incident.status is EngineStatus.closed:
        return "closed"
    if incident.status is EngineStatus.resolved:
        return "resolved"
    if incident.mitigated_at is not None:
        return "mitigated"
    return "acknowledged" if incident.status is EngineStatus.acknowledged else "triggered"


class Worker:
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
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Guards the waiters only. It must not be the write lock: the API threads wait on it, and
        # before it had its own name it replaced the write lock, so the engine and the journal
        # writer met in SQLite's busy handler (sleeps of 1..100 ms) instead of on this lock.
        self._waiters_lock = threading.Lock()
        self._waiters: dict[int, list[Future[Applied]]] = {}
        self._recent: dict[int, Applied] = {}
        self._trimmer = Trimmer()
        self._thread: threading.Thread | None = None
        self.applied_seq = 0
        self.library_digest: str | None = None
        self.running = False
        self.last_error: str | None = None
        #: approvals waiting for a person, as of the last commit (read by the API thread)
        self.approvals: list[dict[str, Any]] = []
        self._approval_rows: dict[str, dict[str, Any]] = {}
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
                conn.execute(
                    insert(t.engine_state).values(id=1, applied_seq=0, updated_at=self._wall.now())
                )
                applied = 0
        self.applied_seq = int(applied)
        start, after_tick = 0, 0
        restored = self.snapshots.restore_newest(self.applied_seq, EPOCH, self._dry_run)
        if restored is not None:
            self.engine, self.clock = restored.engine, restored.clock
            self.library_digest = restored.library_digest
            start, after_tick = restored.applied_seq, restored.tick_id
        count = 0
        with self._db.connect() as conn:
            ticks = self._ticks(conn, after_tick)
            tick = next(ticks, None)
            # Ticks before the first replayed entry: with a snapshot, those that came after it
            # (the engine fired timers with no new entry); from seq 0, none can matter (no
            # runbooks are loaded before the first entry).
            while tick is not None and tick[0] <= start:
                if start:
                    self._tick(tick[1])
                tick = next(ticks, None)
            for seq, kind, at, payload in self._entries(conn, start, self.applied_seq):
                self._apply(seq, kind, at, payload)
                count += 1
                while tick is not None and tick[0] == seq:
                    self._tick(tick[1])
                    tick = next(ticks, None)
        self.approvals = self._approvals_view()
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
        future: Future[Applied] = Future()
        with self._waiters_lock:
            done = self._recent.get(seq)
            if done is not None or seq <= self.applied_seq:
                future.set_result(done or Applied(seq, None))
            else:
                self._waiters.setdefault(seq, []).append(future)
        self._wake.set()
        return future

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
                while self._step():
                    pass
                # Resolved incidents leave memory on this thread; give their pages back.
                self._trimmer.maybe_trim()
                backoff = 0.0
                self.last_error = None
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "engine batch failed, will rebuild from the journal: %s", self.last_error
                )
                backoff = min(max(backoff * 2, 0.2), 5.0)

    def _sleep_for(self, backoff: float) -> float:
        if backoff:
            return backoff
        due = self.engine.next_due()
        if due is None:
            return 1.0
        return min(max((due - self._wall.now()).total_seconds(), 0.0), 1.0)

    def _step(self) -> bool:
        """One batch: apply new entries and due timers, commit. True when there may be more."""
        with self._db.connect() as conn:
            rows = list(self._entries(conn, self.applied_seq, None, limit=self._batch_max))
        commands: list[Command] = []
        outcomes: list[Applied] = []
        started = time.perf_counter()
        received: datetime | None = None
        for seq, kind, at, payload in rows:
            produced, error = self._apply(seq, kind, at, payload)
            commands += produced
            outcomes.append(Applied(seq, error))
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
        if commands or ticks or time.monotonic() - self._saved_at > WATERMARK_EVERY_S:
            work = self._commit(commands, last, ticks)
            self._saved_at = time.monotonic()
            # The calls go to the executor first: it runs on another thread, and what follows
            # (a snapshot above all) would otherwise hold them back for tens of milliseconds.
            if work and self._on_work is not None:
                self._on_work(work)
            self._after_commit(last)
        # else: entries with no effect. Their watermark is stored with the next effect (or
        # within a second); replaying them after a crash is harmless, they change nothing stored.
        self.applied_seq = last
        if any(c.kind in _APPROVAL_KINDS for c in commands):
            self.approvals = self._approvals_view({c.incident for c in commands if c.incident})
        self._resolve_waiters(outcomes)
        if self._on_applied is not None:
            self._on_applied(commands, time.perf_counter() - started)
        return len(rows) == self._batch_max

    def _after_commit(self, seq: int) -> None:
        """The stored watermark is ``seq`` and the engine's state is exactly its state: the one
        moment a snapshot may be taken (it runs on this thread, which owns the state)."""
        if self.snapshots.due(seq):
            self.snapshots.take(self.engine, seq, self.library_digest, self._wall.now())

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
                return self._action(payload), None
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

    def _action(self, p: dict[str, Any]) -> list[Command]:
        action, engine = p["action"], self.engine
        if action == "ack":
            return engine.acknowledge(p["incident"], p["by"])
        if action == "resolve":
            return engine.resolve(p["incident"], p["by"], p.get("reason") or "resolved by a person")
        # "stored": the incident row as the API read it, for one that has left the engine's
        # memory (Engine.retention). Journaled with the action, so replay revives it alike.
        stored = p.get("stored")
        if action == "note":
            return engine.add_note(p["incident"], p["text"], p["by"], stored)
        if action == "close":
            return engine.close(p["incident"], p["by"], stored)
        if action == "reopen":
            reason = p.get("reason") or "reopened"
            return engine.reopen(p["incident"], p["by"], reason, stored)
        if action == "decide":
            return engine.decide(p["approval"], bool(p["approved"]), p["by"])
        raise EngineError(f"unknown action {action!r}")

    def _approvals_view(self, touched: set[str] | None = None) -> list[dict[str, Any]]:
        """The waiting approvals; rows of incidents outside ``touched`` are reused.

        Every payment incident waits for an approval, so the list grows with open incidents and
        rebuilding every row after every batch was 10 % of the engine thread in a burst. A row
        can only change in a batch with commands for its incident (the request, the decision,
        the timeout's escalation all are), so only those are rebuilt; ``None`` rebuilds all.
        """
        rows: dict[str, dict[str, Any]] = {}
        for approval_id, (incident_id, step_id) in self.engine.waiting_approvals().items():
            row = self._approval_rows.get(approval_id)
            if (
                touched is None
                or incident_id in touched
                or row is None
                or (row["incident"], row["step"]) != (incident_id, step_id)
            ):
                row = self._approval_row(approval_id, incident_id, step_id)
            rows[approval_id] = row
        self._approval_rows = rows
        # A new list each time: the API thread reads the old one without a lock.
        return list(rows.values())

    def _approval_row(self, approval_id: str, incident_id: str, step_id: str) -> dict[str, Any]:
        incident = self.engine.incidents.get(incident_id)
        timer = self.engine.timers.get(f"{incident_id}:approval:{step_id}")
        return {
            "id": approval_id,
            "incident": incident_id,
            "runbook": incident.runbook if incident else None,
            "step": step_id,
            "deadline": timer.due.isoformat() if timer else None,
        }

    def _tick(self, at: datetime) -> list[Command]:
        self.clock.set(max(at, self.clock.now()))
        return self.engine.advance()

    # --- storage --------------------------------------------------------------------------

    def _entries(
        self, conn: Connection, after: int, upto: int | None, limit: int | None = None
    ) -> Iterator[tuple[int, str, datetime, dict[str, Any]]]:
        if upto is None and limit is not None:  # the engine thread's every batch
            rows = conn.execute(_NEXT_ENTRIES, {"after": after, "limit": limit})
        else:
            query = select(t.journal).where(t.journal.c.seq > after).order_by(t.journal.c.seq)
            if upto is not None:
                query = query.where(t.journal.c.seq <= upto)
            if limit is not None:
                query = query.limit(limit)
            rows = conn.execution_options(yield_per=2000).execute(query)
        for row in rows:
            yield int(row.seq), row.kind, _aware(row.at), loads(row.payload)

    def _ticks(self, conn: Connection, after_id: int) -> Iterator[tuple[int, datetime]]:
        query = (
            select(t.engine_tick.c.after_seq, t.engine_tick.c.at)
            .where(t.engine_tick.c.id > after_id, t.engine_tick.c.after_seq <= self.applied_seq)
            .order_by(t.engine_tick.c.id)
        )
        for after, at in conn.execute(query).all():
            yield int(after), _aware(at)

    def _commit(
        self, commands: list[Command], last: int, ticks: list[tuple[int, datetime]]
    ) -> list[Work]:
        """Store a batch's effects and watermark; returns its connector calls as the executor
        would read them back from the outbox (the same decoded payloads)."""
        now = self._wall.now()
        with self._write_lock, self._db.begin() as conn:
            work = [
                {
                    "call_id": c.data["call_id"],
                    "incident_id": c.incident,
                    "kind": c.kind,
                    "created_at": c.at,
                    "payload": dumps(c.data),
                    "status": "pending",
                }
                for c in commands
                if c.kind in WORK_KINDS
            ]
            if work:
                conn.execute(_INSERT_OUTBOX, work)
            if commands:
                conn.execute(
                    _INSERT_TIMELINE,
                    [
                        {
                            "incident_id": c.incident,
                            "at": c.at,
                            "kind": c.kind,
                            "summary": c.detail(),
                            "data": dumps(c.data),
                            "journal_seq": last,
                        }
                        for c in commands
                    ],
                )
            touched = sorted({c.incident for c in commands if c.incident})
            if touched:
                self._save_incidents(conn, touched, now)
            if ticks:
                conn.execute(_INSERT_TICK, [{"after_seq": s, "at": a} for s, a in ticks])
            conn.execute(_WATERMARK, {"b_seq": last, "b_at": now})
        return [Work(w["call_id"], w["kind"], loads(w["payload"])) for w in work]

    def _save_incidents(self, conn: Connection, ids: list[str], now: datetime) -> None:
        existing = set(conn.execute(_INCIDENT_IDS, {"ids": ids}).scalars())
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for incident_id in ids:
            incident = self.engine.incidents.get(incident_id)
            if incident is None:  # left memory: a note or late call result, its row is as stored
                continue
            row = {"id": incident_id, **incident_row(incident, now)}
            (changed if incident_id in existing else new).append(row)
        if new:
            conn.execute(_INSERT_INCIDENT, new)
        if changed:  # one executemany, keyed by the b_id bind (the column name is taken)
            conn.execute(_INCIDENT_UPDATE, [{"b_id": r.pop("id"), **r} for r in changed])

    def _resolve_waiters(self, outcomes: list[Applied]) -> None:
        with self._waiters_lock:
            for outcome in outcomes:
                self._recent[outcome.seq] = outcome
                for future in self._waiters.pop(outcome.seq, []):
                    _tell(future, outcome)
            # Waiters for entries that were applied (e.g. by a batch that had no effect).
            for seq in [s for s in self._waiters if s <= self.applied_seq]:
                for future in self._waiters.pop(seq):
                    _tell(future, self._recent.get(seq) or Applied(seq, None))
            while len(self._recent) > 10_000:
                self._recent.pop(next(iter(self._recent)))

    def journal_size(self) -> int:
        with self._db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.journal)).scalar() or 0)


def _tell(future: Future[Applied], outcome: Applied) -> None:
    # A request that gave up waiting (the API's 10 s apply timeout) cancelled its future;
    # set_result would raise InvalidStateError here and fail a batch that is already committed,
    # making the engine rebuild itself from the whole journal.
    with contextlib.suppress(InvalidStateError):
        future.set_result(outcome)


def incident_row(incident: Incident, now: datetime) -> dict[str, Any]:
    rb = incident.compiled.runbook
    return {
        "runbook": rb.id,
        "runbook_version": rb.version,
        "section": rb.section,
        "title": rb.title,
        "severity": incident.severity.value,
        "status": public_status(incident),
        "key": incident.key,
        "labels": dict(incident.labels),
        "opened_at": incident.opened_at,
        "acknowledged_at": incident.acked_at,
        "acknowledged_by": incident.acked_by,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "resolved_by": incident.resolved_by,
        "closed_at": incident.closed_at,
        "alerts": len(incident.alerts) or sum(incident.alert_names.values()),
        "detail": {
            "nature": incident.nature.value,
            "scope": incident.scope.value,
            "complexity": incident.complexity.value,
            "team": rb.team,
            "trigger": incident.trigger,
            "level": incident.level,
            "handling": incident.handling,
            # The correlated alerts (capped: an alert storm must not make one row huge).
            "alerts": list(incident.alert_info.values())[:200],
            "alert_names": dict(incident.alert_names),
        },
        "updated_at": now,
    }


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_INCIDENT_UPDATE = update(t.incident).where(t.incident.c.id == bindparam("b_id"))

# The engine thread's statements, built once. A statement object caches its own cache key, so
# reusing it skips SQLAlchemy's per-call construction and cache-key work (a fifth of the engine
# thread's CPU when every batch built them afresh).
_INCIDENT_IDS = select(t.incident.c.id).where(t.incident.c.id.in_(bindparam("ids", expanding=True)))
_INSERT_INCIDENT = insert(t.incident)
_INSERT_OUTBOX = insert(t.outbox)
_INSERT_TIMELINE = insert(t.timeline)
_INSERT_TICK = insert(t.engine_tick)
_WATERMARK = (
    update(t.engine_state)
    .where(t.engine_state.c.id == 1)
    .values(applied_seq=bindparam("b_seq"), updated_at=bindparam("b_at"))
)
_NEXT_ENTRIES = (
    select(t.journal)
    .where(t.journal.c.seq > bindparam("after"))
    .order_by(t.journal.c.seq)
    .limit(bindparam("limit"))
)
