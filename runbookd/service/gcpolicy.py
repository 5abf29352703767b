"""CPython's cyclic garbage collector, set up for the long-running service (``runbookd serve``).

With CPython's defaults the collector cost the service twice (bench/RESULTS.md, "Ingest: CPU per
request" and "Latency: snapshots and full collections"):

* **CPU per request.** The young threshold (700 new container objects) is smaller than what the
  webhook requests in flight hold (about 30 at once under load, each with its coroutines, parsed
  body and events), so their objects were promoted instead of dying young, and soon triggered
  full collections. A full collection walks every tracked object, about 170,000 right after
  start (modules, pydantic and SQLAlchemy structures, the app's routes) that live as long as the
  process, so walking them never frees anything: about 0.1 ms per request in all.
* **Pauses.** A full collection holds the GIL, so every thread stops for its length: 50-140 ms
  with the engine's state for a thousand open incidents, several times a minute at 100 alerts/s,
  which made most of the alert-to-first-call p99.

So the service collects the young generation after ``YOUNG_AFTER`` new objects (10x the default,
above what the requests in flight hold; 50,000 was tried and made latency worse), runs a full
collection after ``FULL_AFTER`` middle-generation collections instead of 10 (CPython also waits
until the old generation grew by a quarter), and freezes what exists once the app is built
(after a collection, so no garbage is kept for ever); the engine's state is created later and
stays collectable. Garbage without reference cycles is still freed at once; cycles wait longer,
and the memory benchmark (incidents opening and resolving, 1,000,000 events) checks that this
stays bounded.
"""

from __future__ import annotations

import gc

#: New container objects between two young collections (CPython's default is 700).
YOUNG_AFTER = 7_000

#: Middle-generation collections between two full ones (CPython's default is 10).
FULL_AFTER = 100


def configure() -> None:
    """The service's thresholds (call once, first thing)."""
    _, middle, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_AFTER, middle, FULL_AFTER)


def freeze_startup() -> None:
    """Keep the objects built so far out of every later collection (call once, before serving)."""
    gc.collect()
    gc.freeze()
