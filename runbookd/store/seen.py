"""The dedup state the journal writer consults: recent fingerprints in memory, all in the store.

Every alert fingerprint ever received has a row in ``alert_state``. Keeping all of them in memory
too made the service grow with history (232 B per fingerprint; a day of a noisy estate is
millions of them, bench/RESULTS.md "Memory after eviction"). Retries and HA copies come within
seconds to minutes of the original, and a repeat notification of a firing alert within its
``repeat_interval``, so a bounded set of the most recently seen fingerprints answers nearly every
lookup. A fingerprint that is not in it is read from ``alert_state`` -- one primary-key
``IN (...)`` query per writer batch for all of its misses -- so a copy that arrives after its
fingerprint left memory is still judged against the stored state: nothing is accepted twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import Connection, select

from runbookd.alerts.dedup import Seen
from runbookd.store import tables as t

#: Fingerprints kept in memory (~5 MB). More than the alerts that are firing at once in most
#: estates, so a storm's retries and HA copies are judged without a query.
CAPACITY = 20_000
#: Fingerprints per lookup query: well under SQLite's 32,766 bound parameters.
_CHUNK = 500


class SeenCache:
    """Owned by the writer thread (no locking). Holds only committed states."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._recent: OrderedDict[str, Seen] = OrderedDict()
        #: lookups that had to read the store (for tests and metrics)
        self.store_reads = 0

    def __len__(self) -> int:
        return len(self._recent)

    def lookup(
        self, conn: Connection, fingerprints: Iterable[str], *, trust_memory: bool = True
    ) -> dict[str, Seen]:
        """The latest stored state of each fingerprint that has one (absent: never seen).

        ``trust_memory=False`` reads every fingerprint from the store: when other processes
        write it too, memory may hold an older state than theirs."""
        found: dict[str, Seen] = {}
        missing: list[str] = []
        for fp in dict.fromkeys(fingerprints):  # each once, in order
            state = self._recent.get(fp) if trust_memory else None
            if state is None:
                missing.append(fp)
            else:
                found[fp] = state
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            self.store_reads += 1
            rows = conn.execute(
                select(
                    t.alert_state.c.fingerprint,
                    t.alert_state.c.starts_at,
                    t.alert_state.c.status,
                ).where(t.alert_state.c.fingerprint.in_(chunk))
            )
            for fp, starts_at, status in rows:
                found[fp] = Seen(starts_at, status)
        return found

    def remember(self, states: dict[str, Seen]) -> None:
        """States that are now committed; the least recently seen leave beyond ``capacity``."""
        for fp, state in states.items():
            self._recent[fp] = state
            self._recent.move_to_end(fp)
        while len(self._recent) > self.capacity:
            self._recent.popitem(last=False)

    def clear(self) -> None:
        """After a failed transaction: what memory holds may be ahead of the store."""
        self._recent.clear()
