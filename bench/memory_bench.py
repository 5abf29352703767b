"""Memory: the service's RSS once it reached its steady state against its RSS N events later.

A real `runbookd serve` (whole bundled library, SQLite, connector calls to a loopback receiver)
gets events in cycles of 1,000: 20 payment-channel incidents opened by their alert pairs plus
noise, then every one of those alerts resolved, which resolves the incidents. Each cycle is applied
by the engine before the next is sent, so the figure is about what the service keeps, not about a
backlog. Goal: growth <= 10 %, i.e. memory bounded by open incidents, not by history.

Steady state. The feed packs hours of incidents into minutes, so what the product keeps for a
while on purpose -- resolved incidents for ``engine.retention``, the writer's 20,000 most recent
fingerprints -- is still filling when a short warm-up ends, and the growth measured would be
that filling, not history. So the server runs with a short retention (30 s unless ``--retention``
says otherwise) and the warm-up lasts at least ``--warmup`` events (100,000: the dedup memory is
full after about 40,000) and at least two retention windows of wall time, so one window of
resolved incidents has left memory before the first reading. RSS is then read from /proc and
again every ``--trace-every`` events, and the figure is the growth from the first reading to the
last, over ``--events`` events after the warm-up.
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
from runbookd.engine.lang.durations import parse_duration  # noqa: E402

GOAL_GROWTH = 0.10
CYCLE = Cycle(events=1_000, incidents=20, resolve=True)
#: engine.retention of the measured server (see the module docstring).
RETENTION = "30s"
WARMUP = 100_000
TRACE_EVERY = 100_000


def measure(
    events: int,
    warmup: int = WARMUP,
    retention: str = RETENTION,
    trace_every: int = TRACE_EVERY,
) -> dict[str, Any]:
    """Warm up (``warmup`` events and two ``retention`` windows), then send ``events`` more."""
    run = uuid.uuid4().hex[:6]
    receiver = Receiver()
    window = parse_duration(retention).total_seconds()
    measured_cycles = max(1, events // CYCLE.events)
    chunk = max(1, trace_every // CYCLE.events)
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        work = Path(tmp)
        lib = library_copy(work / "runbooks", receiver.address)
        settings = {"RUNBOOKD_ENGINE__RETENTION": retention}
        server = runbookd("runbookd", work / "srv", lib, receiver.address, settings=settings)
        try:
            server.start(timeout=120)
            started = time.monotonic()
            no = warm_sent = 0
            while warm_sent < warmup or time.monotonic() - started < 2 * window:
                warm_sent += feed(server.url, run, range(no, no + 1), CYCLE)
                no += 1
            warm_seconds = time.monotonic() - started
            rss_warm = rss_kib(server.pid)
            trace = [(0, rss_warm / 1024)]
            sent, end = 0, no + measured_cycles
            while no < end:
                step = min(chunk, end - no)
                sent += feed(server.url, run, range(no, no + step), CYCLE)
                no += step
                trace.append((sent, rss_kib(server.pid) / 1024))
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
        "warmup_seconds": warm_seconds,
        "retention": retention,
        "rss_warm_mib": rss_warm / 1024,
        "rss_end_mib": rss_end / 1024,
        "growth": (rss_end - rss_warm) / rss_warm,
        "rss_trace_mib": [(n, round(mib, 1)) for n, mib in trace],
        "incidents_opened": opened,
        "incidents_not_resolved": still_open,
        "connector_calls": receiver.count(),
        "events_per_s": (warm_sent + sent) / seconds,
    }


def _unresolved(samples: dict[Any, float]) -> float:
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "runbookd_incidents" and dict(labels).get("status") != "resolved"
    )


def figures(smoke: bool, events: int | None = None) -> list[Figure]:
    n = events if events is not None else (4_000 if smoke else 1_000_000)
    # A smoke run takes seconds, not minutes: the method is exercised, the figure means little.
    r = measure(n, warmup=1_000, retention="1s", trace_every=2_000) if smoke else measure(n)
    trace = ", ".join(f"{e // 1000:,}k {mib:.0f}" for e, mib in r["rss_trace_mib"])
    note = (
        f"{r['events']:,} events after a warm-up of {r['warmup_events']:,} events in "
        f"{r['warmup_seconds']:.0f} s (engine.retention {r['retention']}), "
        f"{r['events_per_s']:,.0f} events/s; {r['incidents_opened']:.0f} incidents opened, "
        f"{r['incidents_not_resolved']:.0f} not resolved at the end; RSS "
        f"{r['rss_warm_mib']:.0f} -> {r['rss_end_mib']:.0f} MiB (events after warm-up, MiB: "
        f"{trace})"
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
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events after the warm-up (1,000,000)"
    )
    parser.add_argument("--warmup", type=int, default=WARMUP, help="least warm-up events")
    parser.add_argument(
        "--retention",
        default=RETENTION,
        help=f"the server's engine.retention; the warm-up lasts two of them ({RETENTION})",
    )
    parser.add_argument(
        "--trace-every", type=int, default=TRACE_EVERY, help="read RSS every this many events"
    )
    args = parser.parse_args(argv)
    print(measure(args.events, args.warmup, args.retention, args.trace_every))
    return 0


if __name__ == "__main__":
    sys.exit(main())
