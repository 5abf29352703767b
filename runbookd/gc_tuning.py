"""The cyclic garbage collector's settings for the long-running service (``runbookd serve``).

Under webhook load CPython's defaults cost about a sixth of the service's CPU per request
(bench/RESULTS.md, "Ingest: CPU per request"), for two reasons:

* The first threshold (700 new container objects) is smaller than what the requests in flight
  hold (about 30 at once under load, each with its coroutines, parsed body and events). Their
  objects survive the young collections, get promoted, and soon trigger full collections.
* A full collection walks every tracked object: about 170,000 right after start (modules,
  pydantic and SQLAlchemy structures, the app's routes), taking tens of milliseconds each.
  These objects live as long as the process, so walking them never frees anything.

So the service freezes what exists once the app is built (after a collection, so no garbage is
kept forever) and collects the young generation after ``YOUNG_THRESHOLD`` new objects. The
engine's state is created later, when the service starts, and stays collectable.
"""

from __future__ import annotations

import gc

#: New container objects between two young collections: 10x the default, above what the requests
#: in flight hold. Not higher: 50,000 removed every collection from an ingest run, but it made
#: bench/latency_bench.py's incidents up to seconds late, for a reason not found yet
#: (bench/RESULTS.md, "Ingest: CPU per request").
YOUNG_THRESHOLD = 7_000


def tune_for_service() -> None:
    """Freeze the objects built so far and raise the young threshold (call once, before serving)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
