"""Engine snapshots in the store: when to take one, where it goes, and how a start uses it.

The engine thread calls ``Snapshots.after_commit`` right after a batch's transaction: the engine's
state then is exactly the state the stored watermark ``applied_seq`` describes, and the ticks in
it are every ``engine_tick`` row up to the newest id. A snapshot row records both, so a start
(``Worker.recover``) restores it and replays only the journal entries and ticks after it.

A snapshot is an optimisation, never the source of truth. Taking one may fail (it is logged and
the engine goes on); reading one may fail -- written by other code, damaged, inconsistent -- and
then the older one is tried, then the full replay from seq 0. The journal is never pruned.

Compiled runbooks are stored as references ``<seq>/<runbook id>``: the journal entry of the
library they were compiled from and the runbook in it. Restoring compiles just those runbooks from
the journaled text, so an incident opened under an older library version keeps that version.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, delete, func, insert, select

from runbookd.engine.clock import VirtualClock
from runbookd.engine.compiler import CompiledRunbook, compile_runbook
from runbookd.engine.lang.loader import load_text
from runbookd.engine.lang.model import Runbook
from runbookd.engine.runtime import Engine as RulesEngine
from runbookd.engine.snapshot import FORMAT, SnapshotError, capture, fingerprint, refs_of, restore
from runbookd.store import tables as t
from runbookd.store.codec import loads
from runbookd.toolchain.fallback import with_notify

log = logging.getLogger(__name__)

#: How the worker turns journal entries into engine inputs (and this module its references) is
#: part of what a snapshot depends on, besides the engine's own source.
_HERE = Path(__file__).resolve().parent
# The engine thread's code that decides what state a replay builds.
_SOURCES = (
    _HERE / "worker.py",
    _HERE / "journal.py",
    _HERE / "snapshots.py",
    _HERE.parent / "store" / "codec.py",
)


@dataclass(frozen=True)
class SnapshotPolicy:
    """When the engine thread stores its state; ``every_entries`` 0 turns snapshots off."""

    every_entries: int = 10_000
    every_s: float = 300.0
    keep: int = 2
    #: the most of the engine thread's time snapshots may take (None: no limit, for tests)
    max_share: float | None = 0.1


@dataclass(frozen=True)
class Restored:
    engine: RulesEngine
    clock: VirtualClock
    applied_seq: int
    tick_id: int
    library_digest: str | None


class Snapshots:
    """Owned by the worker; every method runs on the engine thread (or before it starts)."""

    def __init__(
        self,
        db: Engine,
        lock: threading.Lock,
        policy: SnapshotPolicy | None = None,
    ) -> None:
        self._db = db
        self._lock = lock
        self.policy = policy or SnapshotPolicy()
        self._code: str | None = None
        #: every compiled runbook the engine may refer to, by id(), with its reference
        self._refs: dict[int, tuple[CompiledRunbook, str]] = {}
        #: seq of the newest stored (or restored) snapshot, and when / how long it took
        self.last_seq = 0
        self._last_at = time.monotonic()
        self.last_capture_s = 0.0
        self.last_size = 0

    @property
    def code(self) -> str:
        if self._code is None:
            self._code = fingerprint(*_SOURCES)
        return self._code

    def forget(self) -> None:
        """The engine is being rebuilt: nothing it referred to is current any more."""
        self._refs.clear()
        self.last_seq = 0

    def register(self, seq: int, compiled: list[CompiledRunbook]) -> None:
        """A library journaled at ``seq`` was compiled: remember where each runbook came from."""
        for item in compiled:
            self._refs[id(item)] = (item, f"{seq}/{item.runbook.id}")

    # --- taking -----------------------------------------------------------------------------

    def due(self, applied_seq: int) -> bool:
        since = applied_seq - self.last_seq
        if self.policy.every_entries <= 0 or since <= 0:
            return False
        elapsed = time.monotonic() - self._last_at
        # Bounded cost: with a large state a snapshot takes a while; never spend more than
        # max_share of the engine thread's time on them, however busy the journal is.
        share = self.policy.max_share
        if share is not None and elapsed < self.last_capture_s / share:
            return False
        return since >= self.policy.every_entries or elapsed >= self.policy.every_s

    def take(
        self, engine: RulesEngine, applied_seq: int, library_digest: str | None, now: datetime
    ) -> bool:
        """Store the engine's state as of ``applied_seq`` (just committed); False if it failed."""
        started = time.perf_counter()
        try:
            blob = capture(
                engine,
                self._ref,
                code=self.code,
                known=[item for item, _ in self._refs.values()],
            )
            capture_s = time.perf_counter() - started
            with self._lock, self._db.begin() as conn:
                # Ticks are only written by this thread, so the newest one is in this state.
                tick_id = conn.execute(select(func.max(t.engine_tick.c.id))).scalar() or 0
                conn.execute(
                    insert(t.engine_snapshot).values(
                        applied_seq=applied_seq,
                        tick_id=int(tick_id),
                        format=FORMAT,
                        code=self.code,
                        created_at=now,
                        capture_s=capture_s,
                        library_digest=library_digest,
                        data=blob,
                    )
                )
                self._prune(conn)
        except Exception as exc:  # a snapshot is an optimisation: never stop the engine for one
            log.warning(
                "engine snapshot at seq %d failed: %s: %s", applied_seq, type(exc).__name__, exc
            )
            # Counted like a success for spacing: a snapshot that keeps failing is retried no
            # more often than max_share allows, not after every batch.
            self._last_at = time.monotonic()
            self.last_capture_s = time.perf_counter() - started
            return False
        self.last_seq = applied_seq
        self._last_at = time.monotonic()
        self.last_capture_s = capture_s
        self.last_size = len(blob)
        log.info("engine snapshot at seq %d: %d bytes in %.3f s", applied_seq, len(blob), capture_s)
        return True

    def _ref(self, compiled: CompiledRunbook) -> str:
        found = self._refs.get(id(compiled))
        if found is None or found[0] is not compiled:
            raise SnapshotError(f"compiled runbook {compiled.name} has no journal reference")
        return found[1]

    def _prune(self, conn: Connection) -> None:
        keep = select(t.engine_snapshot.c.id).order_by(t.engine_snapshot.c.id.desc())
        newest = [int(i) for i in conn.execute(keep.limit(self.policy.keep)).scalars()]
        if newest:
            conn.execute(delete(t.engine_snapshot).where(t.engine_snapshot.c.id < min(newest)))

    # --- restoring --------------------------------------------------------------------------

    def restore_newest(self, applied_seq: int, start: datetime, dry_run: bool) -> Restored | None:
        """The newest snapshot this code can use, at or before ``applied_seq``; None = replay all.

        An unusable one (other code, damaged, inconsistent) is skipped with a warning and the
        next older one is tried: a start never fails, and never runs on a state it doubts.
        """
        with self._db.connect() as conn:
            rows = conn.execute(
                select(
                    t.engine_snapshot.c.id,
                    t.engine_snapshot.c.applied_seq,
                    t.engine_snapshot.c.tick_id,
                    t.engine_snapshot.c.library_digest,
                    t.engine_snapshot.c.code,
                )
                .where(t.engine_snapshot.c.applied_seq <= applied_seq)
                .order_by(t.engine_snapshot.c.id.desc())
            ).all()
        for row_id, seq, tick_id, digest, code in rows:
            if code != self.code:  # e.g. the first start after an upgrade; skip without reading
                log.warning(
                    "engine snapshot %d (seq %d) not used: written by other engine code",
                    row_id,
                    seq,
                )
                continue
            started = time.perf_counter()
            clock = VirtualClock(start)  # a failed attempt may have moved it: one per attempt
            try:
                engine = self._restore_row(int(row_id), clock, dry_run)
            except Exception as exc:  # any failure means "not usable": fall back, never fail
                log.warning(
                    "engine snapshot %d (seq %d) not used: %s: %s",
                    row_id,
                    seq,
                    type(exc).__name__,
                    exc,
                )
                self._refs.clear()
                continue
            log.info(
                "engine restored from the snapshot at seq %d in %.2f s",
                seq,
                time.perf_counter() - started,
            )
            self.last_seq = int(seq)
            self._last_at = time.monotonic()
            return Restored(engine, clock, int(seq), int(tick_id), digest)
        return None

    def _restore_row(self, row_id: int, clock: VirtualClock, dry_run: bool) -> RulesEngine:
        with self._db.connect() as conn:
            blob = conn.execute(
                select(t.engine_snapshot.c.data).where(t.engine_snapshot.c.id == row_id)
            ).scalar_one()
            refs = refs_of(bytes(blob), code=self.code)
            resolved = self._resolve_refs(conn, refs)
        return restore(bytes(blob), resolved.__getitem__, clock, code=self.code, dry_run=dry_run)

    def _resolve_refs(self, conn: Connection, refs: list[str]) -> dict[str, CompiledRunbook]:
        """Compile each referenced runbook from the library entry it came from, once."""
        wanted: dict[int, set[str]] = {}
        for ref in refs:
            seq, _, runbook_id = ref.partition("/")
            wanted.setdefault(int(seq), set()).add(runbook_id)
        rows = conn.execute(
            select(t.journal.c.seq, t.journal.c.kind, t.journal.c.payload).where(
                t.journal.c.seq.in_(sorted(wanted))
            )
        ).all()
        out: dict[str, CompiledRunbook] = {}
        for seq, kind, payload in rows:
            if kind != "runbooks":
                raise SnapshotError(f"journal entry {seq} is not a runbook library")
            found = _runbooks(loads(payload), wanted[int(seq)])
            for runbook_id, runbook in found.items():
                compiled = compile_runbook(runbook)
                out[f"{seq}/{runbook_id}"] = compiled
                self._refs[id(compiled)] = (compiled, f"{seq}/{runbook_id}")
        missing = set(refs) - out.keys()
        if missing:
            raise SnapshotError(f"runbook {sorted(missing)[0]} is not in the journal")
        return out


def _runbooks(payload: dict[str, object], ids: set[str]) -> dict[str, Runbook]:
    """The runbooks ``ids`` of a journaled library (files that are not asked for are parsed but
    not compiled: compiling is the larger cost)."""
    out: dict[str, Runbook] = {}
    files = payload["files"]
    assert isinstance(files, list)
    for item in files:
        loaded, problems = load_text(item["text"], item["file"])
        if loaded is None:
            raise SnapshotError(f"journaled runbook {item['file']} no longer loads: {problems}")
        if loaded.runbook.id in ids:
            notify = payload.get("fallback_notify")
            notify = notify if isinstance(notify, dict) else None
            out[loaded.runbook.id] = with_notify(loaded.runbook, notify)
    return out
