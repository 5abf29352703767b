"""The engine lease: which replica runs the engine, fenced by an epoch (PostgreSQL only).

One row of ``engine_lease`` per shard names the holder, its epoch and when the lease expires by
the DATABASE's clock (``now()``), so replicas whose clocks disagree still agree on expiry. The
epoch grows by one exactly when the lease changes hands (it was expired, or released); a renewal
keeps it. Every engine commit locks the row and checks holder and epoch (``check``), which is the
fence: a leader that was paused, or cut off from the database, for longer than the TTL finds
another epoch there and stores nothing.

The holder also keeps a local deadline on its monotonic clock, ``renewal sent + ttl - margin``:
always earlier than the database's expiry (the renewal was sent before the database stamped it),
so the executor can refuse to start a connector call when the lease may already be someone
else's. What no fence closes -- a pause between that check and the socket write, a crash after
sending -- is covered by the calls' idempotency keys.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """A fenced commit found the lease held by someone else, another epoch, or expired."""


@dataclass(frozen=True)
class LeaseView:
    """The lease row as read (for /readyz and metrics)."""

    holder: str
    epoch: int
    expires_in: float


_ACQUIRE = text(
    """
    INSERT INTO engine_lease (shard, holder, epoch, expires_at, acquired_at)
    VALUES (:shard, :holder, 1, now() + make_interval(secs => :ttl), now())
    ON CONFLICT (shard) DO UPDATE
       SET holder = EXCLUDED.holder, epoch = engine_lease.epoch + 1,
           expires_at = EXCLUDED.expires_at, acquired_at = EXCLUDED.acquired_at
     WHERE engine_lease.expires_at <= now()
    RETURNING epoch
    """
)
_RENEW = text(
    """
    UPDATE engine_lease SET expires_at = now() + make_interval(secs => :ttl)
     WHERE shard = :shard AND holder = :holder AND epoch = :epoch AND expires_at > now()
    RETURNING epoch
    """
)
# A clean stop hands over at once: expired now, the next replica's acquire bumps the epoch.
_RELEASE = text(
    """
    UPDATE engine_lease SET expires_at = now() - interval '1 second'
     WHERE shard = :shard AND holder = :holder AND epoch = :epoch
    """
)
_CHECK = text(
    """
    SELECT holder, epoch, expires_at > now() AS live FROM engine_lease
     WHERE shard = :shard FOR UPDATE
    """
)
_READ = text(
    """
    SELECT holder, epoch, EXTRACT(EPOCH FROM expires_at - now()) FROM engine_lease
     WHERE shard = :shard
    """
)


class Lease:
    """This replica's view of the lease; ``keep`` runs the renew/acquire loop on its own thread.

    The loop uses its own engine (one connection, not the service's pool), so a pool exhausted by
    API reads cannot delay a renewal past the deadline.
    """

    def __init__(
        self,
        db: Engine,
        holder: str,
        *,
        ttl: float = 5.0,
        margin: float = 1.0,
        shard: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < margin < ttl:
            raise ValueError("the lease's clock margin must be between 0 and its TTL")
        self._db = db
        self.holder = holder
        self.ttl = ttl
        self.margin = margin
        self.shard = shard
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._epoch: int | None = None
        self._deadline = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: times this replica acquired the lease (a new epoch each)
        self.acquired = 0
        #: times it lost the lease without handing it over
        self.lost = 0
        self.on_change: Callable[[int | None], None] | None = None

    # --- what others ask ------------------------------------------------------------------

    @property
    def epoch(self) -> int | None:
        """The epoch held, while the local deadline has not passed; else None."""
        with self._lock:
            if self._epoch is not None and self._monotonic() < self._deadline:
                return self._epoch
            return None

    def valid(self) -> bool:
        return self.epoch is not None

    def remaining(self) -> float:
        """Seconds until the local deadline (0 when not held)."""
        with self._lock:
            if self._epoch is None:
                return 0.0
            return max(self._deadline - self._monotonic(), 0.0)

    def check(self, conn: Connection, epoch: int) -> None:
        """The fence, inside an engine commit's transaction: lock the row and make sure it is
        still ours at ``epoch`` and not expired by the database's clock; else ``LeaseLost``.

        The row lock is held to the end of the commit, so an acquire cannot slip in between this
        check and the commit (it waits, bounded by ``lock_timeout``)."""
        row = conn.execute(_CHECK, {"shard": self.shard}).one_or_none()
        if row is None or row.holder != self.holder or row.epoch != epoch or not row.live:
            found = "no lease" if row is None else f"{row.holder} at epoch {row.epoch}"
            raise LeaseLost(f"the engine lease is not ours at epoch {epoch} ({found})")

    def read(self) -> LeaseView | None:
        with self._db.connect() as conn:
            row = conn.execute(_READ, {"shard": self.shard}).one_or_none()
        if row is None:
            return None
        return LeaseView(str(row[0]), int(row[1]), float(row[2]))

    # --- the loop -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="runbookd-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and hand the lease over (the next replica takes it within ttl/5)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.ttl)
        with self._lock:
            epoch, self._epoch = self._epoch, None
        if epoch is not None:
            try:
                with self._db.begin() as conn:
                    conn.execute(
                        _RELEASE, {"shard": self.shard, "holder": self.holder, "epoch": epoch}
                    )
                log.info("engine lease released (epoch %d)", epoch)
            except SQLAlchemyError as exc:  # it expires on its own within the TTL
                log.warning("could not release the engine lease: %s", type(exc).__name__)
            self._changed(None)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.ttl / 5)

    def step(self) -> None:
        """Renew the lease if held, else try to take it (one round of the loop)."""
        with self._lock:
            held = self._epoch
        sent = self._monotonic()
        try:
            with self._db.begin() as conn:
                if held is not None:
                    row = conn.execute(
                        _RENEW,
                        {
                            "shard": self.shard,
                            "holder": self.holder,
                            "epoch": held,
                            "ttl": self.ttl,
                        },
                    ).one_or_none()
                else:
                    row = conn.execute(
                        _ACQUIRE, {"shard": self.shard, "holder": self.holder, "ttl": self.ttl}
                    ).one_or_none()
        except SQLAlchemyError as exc:
            # Unreachable database: keep the deadline as it is; it runs out on its own.
            log.warning("engine lease round failed: %s", type(exc).__name__)
            self._expire_if_late()
            return
        if row is None:
            if held is not None:
                self._lose(held, "renewal refused: the lease expired or changed hands")
            return
        epoch = int(row[0])
        with self._lock:
            self._epoch = epoch
            self._deadline = sent + self.ttl - self.margin
        if held is None:
            self.acquired += 1
            log.info("engine lease acquired by %s at epoch %d", self.holder, epoch)
            self._changed(epoch)

    def _expire_if_late(self) -> None:
        with self._lock:
            held = self._epoch
            late = held is not None and self._monotonic() >= self._deadline
        if late and held is not None:
            self._lose(held, "no renewal before the local deadline")

    def _lose(self, epoch: int, why: str) -> None:
        with self._lock:
            if self._epoch != epoch:
                return
            self._epoch = None
        self.lost += 1
        log.warning("engine lease lost at epoch %d: %s", epoch, why)
        self._changed(None)

    def _changed(self, epoch: int | None) -> None:
        if self.on_change is not None:
            self.on_change(epoch)
