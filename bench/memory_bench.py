"""Memory: the service's RSS after warm-up against its RSS after N events.

A real `runbookd serve` (whole bundled library, SQLite, connector calls to a loopback receiver)
gets N events in cycles of 1,000: 20 payment-channel incidents opened by their alert pairs plus
noise, then every one of those alerts resolved, which resolves the incidents. Each cycle is applied
by the engine before the next is sent, so the figure is about what the service keeps, not about a
backlog. RSS is read from /proc after the warm-up cycles and at the end. Goal: growth <= 10 %,
i.e. memory bounded by open incidents, not by history.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.ingest_bench import metric, scrape  # noqa: E402
from bench.service import Cycle, Receiver, feed, library_copy, poll, rss_kib, runbookd  # noqa: E402
from bench.suite import Figure  # noqa: E402

GOAL_GROWTH = 0.10
CYCLE = Cycle(events=1_000, incidents=20, resolve=True)


def measure(events: int, warmup: int, retention: str | None = None) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    receiver = Receiver()
    warm_cycles = max(1, warmup // CYCLE.events)
    total_cycles = max(warm_cycles + 1, events // CYCLE.events)
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        work = Path(tmp)
        lib = library_copy(work / "runbooks", receiver.address)
        # The feed packs hours of incidents into minutes: a run shorter than engine.retention
        # keeps every resolved incident (by design); --retention shows the bound within a run.
        settings = {"RUNBOOKD_ENGINE__RETENTION": retention} if retention else None
        server = runbookd("runbookd", work / "srv", lib, receiver.address, settings=settings)
        try:
            server.start(timeout=120)
            started = time.monotonic()
            warm_sent = feed(server.url, run, range(warm_cycles), CYCLE)
            rss_warm = rss_kib(server.pid)
            sent = warm_sent + feed(server.url, run, range(warm_cycles, total_cycles), CYCLE)
            # The incidents gauge follows the engine's commit a moment after the inbox drains.
            with contextlib.suppress(RuntimeError):
                poll(lambda: _unresolved(scrape(server.url)) == 0, 30, "incidents to resolve")
            rss_end = rss_kib(server.pid)
            seconds = time.monotonic() - started
            samples = scrape(server.url)
        finally:
            server.stop()
            receiver.close()
    opened = metric(samples, "runbookd_incidents_opened_total", runbook="payment-channel-abnormal")
    still_open = _unresolved(samples)
    return {
        "events": sent,
        "warmup_events": warm_sent,
        "rss_warm_mib": rss_warm / 1024,
        "rss_end_mib": rss_end / 1024,
        "growth": (rss_end - rss_warm) / rss_warm,
        "incidents_opened": opened,
        "incidents_not_resolved": still_open,
        "connector_calls": receiver.count(),
        "events_per_s": sent / seconds,
    }


def _unresolved(samples: dict[Any, float]) -> float:
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "runbookd_incidents" and dict(labels).get("status") != "resolved"
    )


def figures(smoke: bool, events: int | None = None) -> list[Figure]:
    n = events if events is not None else (4_000 if smoke else 1_000_000)
    r = measure(n, warmup=min(20_000, n // 4))
    note = (
        f"{r['events']:,} events at {r['events_per_s']:,.0f}/s; {r['incidents_opened']:.0f} "
        f"incidents opened, {r['incidents_not_resolved']:.0f} not resolved at the end; RSS "
        f"{r['rss_warm_mib']:.0f} -> {r['rss_end_mib']:.0f} MiB"
    )
    return [
        Figure(
            "memory",
            f"RSS growth after {r['events']:,} events",
            r["growth"] * 100,
            "%",
            GOAL_GROWTH * 100,
            "<=",
            note=note,
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument(
        "--retention", help="the server's engine.retention (e.g. 30s); default: the product's"
    )
    args = parser.parse_args(argv)
    print(measure(args.events, args.warmup, args.retention))
    return 0


if __name__ == "__main__":
    sys.exit(main())
