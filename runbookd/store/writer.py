"""The one writer of the journal: group commit, dedup, and a clear failure when storage is down.

Every request that must be durable before it is answered -- a webhook's alerts, a person's
acknowledgement, a connector's result -- becomes a job on this thread's queue. The thread takes
whatever has queued (up to ``batch_max``), writes it all in ONE transaction and only then
resolves the jobs' futures, so a 202 always means "on disk". Batching makes durability cheap:
one fsync serves every request that arrived while the previous commit was running (measured in
the shared ingest notes: synchronous=FULL costs almost nothing more than NORMAL this way).

One writer also gives the journal a total order that equals commit order on every backend, which
the engine's replay relies on (with several writers, PostgreSQL can commit seq 12 after seq 13).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text, update
from sqlalchemy.exc import SQLAlchemyError

from runbookd.alerts.alertmanager import dedup_key
from runbookd.alerts.dedup import Seen, judge
from runbookd.auth.audit import AuditRecord
from runbookd.engine.events import Event
from runbookd.store import tables as t
from runbookd.store.codec import dumps, event_to_dict
from runbookd.store.seen import SeenCache

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database could not durably store the data; the sender should retry (HTTP 503)."""


@dataclass(frozen=True)
class IngestJob:
    """Alerts or events from one request."""

    events: list[Event]
    source: str
    received_at: datetime
    receiver: str = ""
    group_key: str = ""
    external_url: str = ""
    truncated_alerts: int = 0


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    stale: int = 0
    last_seq: int | None = None


@dataclass(frozen=True)
class EntryJob:
    """One journal entry (a person's action, a connector result); optionally closes an outbox row."""

    kind: str
    payload: dict[str, Any]
    at: datetime
    outbox_call_id: str | None = None
    outbox_status: str = "done"
    outbox_error: str | None = None
    #: False when the sender does not need the entry's ``seq`` (a connector's result): such
    #: entries join the batch's one multi-row INSERT and the job's result is None.
    wants_seq: bool = True
    #: who did it (a person's action): stored in the same transaction, with the entry's seq
    audit: AuditRecord | None = None


@dataclass(frozen=True)
class AuditJob:
    """Audit records of something that is not a journal entry (a refused attempt, an edit)."""

    records: tuple[AuditRecord, ...]
    at: datetime


Job = IngestJob | EntryJob | AuditJob


@dataclass
class _Pending:
    job: Job
    #: how the sender hears back: a thread's future, or an event loop's (``submit_async``)
    future: Future[Any] | None = None
    waiter: asyncio.Future[Any] | None = None


class Writer:
    def __init__(
        self,
        engine: Engine,
        *,
        batch_max: int = 500,
        on_commit: Callable[[int], None] | None = None,
        lock: threading.Lock | None = None,
        commit_interval: float = 0.0,
        shared: bool = False,
    ) -> None:
        self._engine = engine
        #: other processes write the same journal (cluster.enabled, PostgreSQL): see _write
        self._shared = shared
        self._commit_interval = commit_interval
        #: shared with the engine thread's commits: on SQLite two writers would otherwise sleep
        #: in its busy handler (1..100 ms steps) instead of waking when the other is done
        self._lock = lock or threading.Lock()
        self._batch_max = batch_max
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._seen = SeenCache()
        self._thread = threading.Thread(target=self._run, name="runbookd-writer", daemon=True)
        self.commits = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def submit(self, job: Job) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put(_Pending(job, future=future))
        return future

    def submit_async(self, job: Job) -> asyncio.Future[Any]:
        """``submit`` for a coroutine: resolved on its loop, one hand-off per loop and batch.

        ``asyncio.wrap_future`` costs a wake-up of the loop (a write to its self-pipe) for every
        request; a batch of 30 webhook requests now costs one. A sender that stopped waiting
        (its task was cancelled) does not disturb the writer.
        """
        waiter = asyncio.get_running_loop().create_future()
        self._queue.put(_Pending(job, waiter=waiter))
        return waiter

    def depth(self) -> int:
        return self._queue.qsize()

    # --- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._commit_interval
            while len(batch) < self._batch_max:
                try:
                    wait = deadline - time.monotonic()
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        staged: dict[str, Seen] = {}
        seen: dict[str, Seen] = {}
        try:
            results: list[Any] = []
            journal_rows: list[dict[str, Any]] = []
            receipts: list[dict[str, Any]] = []
            closed: list[dict[str, Any]] = []
            audits: list[dict[str, Any]] = []
            keys = {
                id(job): [dedup_key(event) for event in job.events]
                for job in (p.job for p in batch)
                if isinstance(job, IngestJob)
            }
            with self._lock, self._engine.begin() as conn:
                if self._shared:
                    # Replicas write one journal. A sequence hands out seq at INSERT time, so
                    # two transactions could commit 13 before 12 and the engine, reading
                    # "after 12", would skip 12 for good. Holding this lock from before the
                    # first INSERT to the commit makes commit order equal seq order; it also
                    # serialises the dedup below, so two replicas receiving the same alert
                    # (Alertmanager sending to all of them) store it once.
                    conn.execute(_JOURNAL_LOCK, {"key": JOURNAL_LOCK_KEY})
                fingerprints = (k[0] for ks in keys.values() for k in ks)
                # Shared: another replica may have stored a newer state of any fingerprint,
                # so the store is asked for all of them, under the lock.
                seen = self._seen.lookup(conn, fingerprints, trust_memory=not self._shared)
                for pending in batch:
                    job = pending.job
                    if isinstance(job, IngestJob):
                        results.append(
                            self._ingest(job, keys[id(job)], seen, staged, journal_rows, receipts)
                        )
                        continue
                    if isinstance(job, AuditJob):
                        audits += [r.row(job.at) for r in job.records]
                        results.append(None)
                        continue
                    row = {"kind": job.kind, "at": job.at, "payload": dumps(job.payload)}
                    if job.wants_seq or job.audit is not None:
                        seq = _new_seq(conn.execute(_JOURNAL_INSERT, row))
                        results.append(seq)
                        if job.audit is not None:
                            audits.append(job.audit.row(job.at, seq))
                    else:
                        journal_rows.append(row)
                        results.append(None)
                    if job.outbox_call_id is not None:
                        closed.append(
                            {
                                "cid": job.outbox_call_id,
                                "st": job.outbox_status,
                                "fa": job.at,
                                "err": job.outbox_error,
                            }
                        )
                # One statement per table for the whole batch (executemany): building a
                # statement per row cost more CPU than SQLite did (bench/RESULTS.md, Ingest).
                if journal_rows:
                    conn.execute(_JOURNAL_INSERT, journal_rows)
                if receipts:
                    conn.execute(_RECEIPT_INSERT, receipts)
                if closed:
                    conn.execute(_OUTBOX_CLOSE, closed)
                if audits:
                    conn.execute(_AUDIT_INSERT, audits)
                self._save_seen(conn, seen, staged)
        except SQLAlchemyError as exc:
            # Nothing of the batch is stored; every sender hears so and retries.
            log.warning(
                "store unavailable, %d requests refused: %s", len(batch), type(exc).__name__
            )
            self._seen.clear()  # the database is the truth; memory may be ahead of it
            error = StoreUnavailable("the database is unavailable; retry later")
            _settle([(pending, None, error) for pending in batch])
            return
        except Exception as exc:  # a bug must fail the requests, not kill the only writer
            log.exception("writer failed on a batch")
            _settle([(pending, None, exc) for pending in batch])
            return
        self._seen.remember({**seen, **staged})
        self.commits += 1
        _settle([(p, result, None) for p, result in zip(batch, results, strict=True)])
        if self._on_commit is not None:
            self._on_commit(0)

    def _ingest(
        self,
        job: IngestJob,
        keys: list[tuple[str, str, str]],
        seen: dict[str, Seen],
        staged: dict[str, Seen],
        journal_rows: list[dict[str, Any]],
        receipts: list[dict[str, Any]],
    ) -> IngestResult:
        result = IngestResult()
        for event, (fingerprint, starts_at, status) in zip(job.events, keys, strict=True):
            verdict = judge(staged.get(fingerprint) or seen.get(fingerprint), starts_at, status)
            if verdict == "duplicate":
                result.duplicates += 1
                continue
            if verdict == "stale":
                result.stale += 1
                continue
            staged[fingerprint] = Seen(starts_at, status)
            journal_rows.append(
                {"kind": "event", "at": job.received_at, "payload": dumps(event_to_dict(event))}
            )
            result.accepted += 1
        receipts.append(
            {
                "received_at": job.received_at,
                "source": job.source,
                "receiver": job.receiver[:256],
                "group_key": job.group_key,
                "external_url": job.external_url,
                "truncated_alerts": job.truncated_alerts,
                "accepted": result.accepted,
                "duplicates": result.duplicates + result.stale,
            }
        )
        return result

    def _save_seen(self, conn: Connection, seen: dict[str, Seen], staged: dict[str, Seen]) -> None:
        now = datetime.now(UTC)
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for fp, state in staged.items():
            row = {"fp": fp, "sa": state.starts_at, "st": state.status, "ua": now}
            (changed if fp in seen else new).append(row)
        if new:
            conn.execute(_STATE_INSERT, new)
        if changed:
            conn.execute(_STATE_UPDATE, changed)


Outcome = tuple[_Pending, Any, BaseException | None]


def _settle(outcomes: list[Outcome]) -> None:
    """Tell every sender of a batch how it went: threads directly, each event loop at once."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        pending, result, error = outcome
        if pending.waiter is not None:
            by_loop.setdefault(pending.waiter.get_loop(), []).append(outcome)
            continue
        assert pending.future is not None
        # InvalidStateError: the sender cancelled its future, it no longer listens. Raising
        # here would stop the only writer.
        with contextlib.suppress(InvalidStateError):
            if error is None:
                pending.future.set_result(result)
            else:
                pending.future.set_exception(error)
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle_on_loop, items)


def _settle_on_loop(outcomes: list[Outcome]) -> None:
    for pending, result, error in outcomes:
        waiter = pending.waiter
        if waiter is None or waiter.done():  # done: cancelled by a sender that gave up
            continue
        if error is None:
            waiter.set_result(result)
        else:
            waiter.set_exception(error)


_JOURNAL_INSERT = t.journal.insert()
#: The transaction-level advisory lock replicas' writers take (an arbitrary constant: "rbkd").
JOURNAL_LOCK_KEY = 0x72626B64
_JOURNAL_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_OUTBOX_CLOSE = (
    update(t.outbox)
    .where(t.outbox.c.call_id == bindparam("cid"))
    .values(status=bindparam("st"), finished_at=bindparam("fa"), error=bindparam("err"))
)
_RECEIPT_INSERT = t.receipt.insert()
_AUDIT_INSERT = t.audit.insert()
_STATE_INSERT = t.alert_state.insert().values(
    fingerprint=bindparam("fp"),
    starts_at=bindparam("sa"),
    status=bindparam("st"),
    updated_at=bindparam("ua"),
)
_STATE_UPDATE = (
    update(t.alert_state)
    .where(t.alert_state.c.fingerprint == bindparam("fp"))
    .values(starts_at=bindparam("sa"), status=bindparam("st"), updated_at=bindparam("ua"))
)


def _new_seq(cursor: Any) -> int:
    key = cursor.inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no key for a journal row")
    return int(key[0])
