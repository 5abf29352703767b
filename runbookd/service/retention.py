"""Store retention: ``alert_outcome`` rows older than ``retention.alert_outcomes`` are deleted.

Every alert and event runbookd receives leaves one outcome row (``runbookd.service.outcomes``),
so the table grows with the traffic, unlike incidents and their timelines, which grow with what
went wrong. The engine thread prunes it after one of its commits, at most once per
``PRUNE_EVERY`` of its wall clock (an injected clock in tests), so only the process that stores
engine effects deletes (the leader, with replicas) and a quiet service does no work. One pass
deletes at most ``BATCH`` rows, oldest first, so a first pass over a large backlog does not hold
the store's write lock for long; a full batch means more are due, and the next commit continues.

Deleting an outcome loses nothing the engine needs: outcomes are records of what it did, never
its inputs, and replaying the journal never writes them again (replayed commands are discarded).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from runbookd.store import tables as t

log = logging.getLogger(__name__)

#: Wall-clock time between two pruning passes.
PRUNE_EVERY = timedelta(minutes=10)
#: Most rows one pass deletes.
BATCH = 10_000


class OutcomeRetention:
    """Prunes ``alert_outcome`` by age; ``max_age`` None keeps every row."""

    def __init__(self, max_age: timedelta | None) -> None:
        self.max_age = max_age
        self._next: datetime | None = None  # None: prune after the first commit
        self.deleted = 0  #: rows deleted since start

    def after_commit(self, db: Engine, lock: threading.Lock, now: datetime) -> int:
        """Prune if it is time; returns how many rows went. A failure is logged and retried at
        the next pass: the engine's own commit already succeeded."""
        if self.max_age is None or (self._next is not None and now < self._next):
            return 0
        oldest = t.alert_outcome.c
        doomed = (
            select(oldest.id)
            .where(oldest.at < now - self.max_age)
            .order_by(oldest.id)
            .limit(BATCH)
            .scalar_subquery()
        )
        try:
            with lock, db.begin() as conn:
                gone = conn.execute(delete(t.alert_outcome).where(oldest.id.in_(doomed))).rowcount
        except Exception as exc:  # the store may be away; the engine's loop must not stop
            log.warning("could not prune alert outcomes: %s: %s", type(exc).__name__, exc)
            self._next = now + PRUNE_EVERY
            return 0
        # A full batch means a backlog: continue after the next commit instead of in 10 minutes.
        self._next = now if gone >= BATCH else now + PRUNE_EVERY
        self.deleted += gone
        if gone:
            log.info("deleted %d alert outcomes older than %s", gone, self.max_age)
        return int(gone)
