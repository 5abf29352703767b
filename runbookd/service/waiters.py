"""Requests waiting for the engine to apply their journal entry (an ack, an approval, a reload).

The API journals a person's action and answers once the engine applied it, with the engine's
verdict (a refusal says why). Any engine thread resolves them: the leader after its commit, a
follower when it applied what the leader stored, the ingest role's watermark watch.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass

#: Outcomes kept for requests that ask after their entry was applied.
RECENT = 10_000


@dataclass(frozen=True)
class Applied:
    """What became of one journal entry: None, or why a person's action was refused."""

    seq: int
    error: str | None


class Waiters:
    def __init__(self) -> None:
        # Guards the waiters only. It must not be the write lock: the API threads wait on it, and
        # before it had its own name it replaced the write lock, so the engine and the journal
        # writer met in SQLite's busy handler (sleeps of 1..100 ms) instead of on this lock.
        self._lock = threading.Lock()
        self._waiting: dict[int, list[Future[Applied]]] = {}
        self._recent: dict[int, Applied] = {}

    def wait(self, seq: int, applied_seq: int) -> Future[Applied]:
        """A future that completes when the entry ``seq`` has been applied and committed."""
        future: Future[Applied] = Future()
        with self._lock:
            done = self._recent.get(seq)
            if done is not None or seq <= applied_seq:
                future.set_result(done or Applied(seq, None))
            else:
                self._waiting.setdefault(seq, []).append(future)
        return future

    def resolve(self, outcomes: list[Applied], applied_seq: int) -> None:
        with self._lock:
            for outcome in outcomes:
                self._recent[outcome.seq] = outcome
                for future in self._waiting.pop(outcome.seq, []):
                    _tell(future, outcome)
            # Waiters for entries that were applied (e.g. by a batch that had no effect).
            for seq in [s for s in self._waiting if s <= applied_seq]:
                for future in self._waiting.pop(seq):
                    _tell(future, self._recent.get(seq) or Applied(seq, None))
            while len(self._recent) > RECENT:
                self._recent.pop(next(iter(self._recent)))


def _tell(future: Future[Applied], outcome: Applied) -> None:
    # A request that gave up waiting (the API's 10 s apply timeout) cancelled its future;
    # set_result would raise InvalidStateError here and fail a batch that is already committed,
    # making the engine rebuild itself from the whole journal.
    with contextlib.suppress(InvalidStateError):
        future.set_result(outcome)
