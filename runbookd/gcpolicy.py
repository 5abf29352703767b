"""How often the long-running service lets CPython's cyclic collector do a full collection.

A full (generation 2) collection walks every tracked object while holding the GIL, so every
thread stops for its length. With the engine's state for about a thousand open incidents that
was 50-140 ms on this machine, several times a minute under the latency benchmark's load, and
those pauses plus the engine's snapshots were most of the alert-to-first-call p99 (bench/
RESULTS.md, "Latency: snapshots and full collections").

CPython starts a full collection after ``threshold2`` (default 10) middle-generation
collections, and only once the objects that reached the old generation grew by a quarter since
the last one. The service raises ``threshold2`` to ``FULL_AFTER``: full collections come about
ten times less often, each no longer than before. Most of the service's garbage is freed by
reference counting the moment it is dropped; only reference cycles wait for the collector, and
they now wait longer. The memory benchmark (1,000,000 events, incidents opening and resolving)
is the check that this stays bounded.
"""

from __future__ import annotations

import gc

#: Middle-generation collections between two full ones (CPython's default is 10).
FULL_AFTER = 100


def configure() -> None:
    """Space out full collections; the young and middle generations keep their schedule."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_AFTER)
