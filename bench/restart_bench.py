"""Restart: time from `runbookd serve` starting to /readyz answering 200, with a full database.

The database is filled through the webhook of a real server (whole bundled library, SQLite, dry
run so nobody is paged 10,000 times): cycles of 1,000 stored events, 10 % of them pairs that open
payment-channel-abnormal incidents that stay open. Once the engine has applied everything the
server is stopped and started again on the same database; the time until it is ready is the
figure: once after a SIGKILL (the engine restores its last periodic snapshot and replays the
journal after it), then after clean stops (a final snapshot leaves nothing to replay); the figure
is the slower of the two. The baseline is the start of the same service on an empty database in
the same run.
Goal: <= 5 s with 10,000 open incidents and 100,000 stored events.
"""

from __future__ import annotations

import argparse
import statistics
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

from bench.ingest_bench import Server, metric, scrape  # noqa: E402
from bench.service import Cycle, Receiver, feed, library_copy, poll, runbookd  # noqa: E402
from bench.suite import Figure  # noqa: E402

GOAL_S = 5.0


def timed_start(server: Server) -> float:
    started = time.perf_counter()
    server.start(timeout=300)
    return time.perf_counter() - started


def measure(events: int, incidents: int, starts: int = 3) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    receiver = Receiver()
    cycles = max(1, events // 1_000)
    cycle = Cycle(events=1_000, incidents=max(1, incidents // cycles), resolve=False)
    empty_s: list[float] = []
    full_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="restart-bench-") as tmp:
        work = Path(tmp)
        lib = library_copy(work / "runbooks", receiver.address)
        empty = runbookd("empty", work / "empty", lib, receiver.address, dry_run=True)
        server = runbookd("full", work / "full", lib, receiver.address, dry_run=True)
        try:
            for _ in range(starts):
                empty_s.append(timed_start(empty))
                empty.stop()
            server.start(timeout=300)
            fill_started = time.monotonic()
            sent = feed(server.url, run, range(cycles), cycle, timeout=600)
            fill_s = time.monotonic() - fill_started
            expected = cycles * cycle.incidents
            # The incidents gauge follows the engine's commit a moment later than the inbox.
            poll(lambda: _open(scrape(server.url)) >= expected, 120, "incidents to show as open")
            samples = scrape(server.url)
            # First a crash: SIGKILL, so no snapshot is stored on the way out and the start
            # restores the last periodic one and replays the journal after it. Then clean stops
            # (SIGTERM), after which the engine's final snapshot leaves nothing to replay.
            assert server.proc is not None
            server.proc.kill()
            server.proc.wait()
            killed_s = timed_start(server)
            after = scrape(server.url)
            server.stop()
            for _ in range(starts):
                full_s.append(timed_start(server))
                after = scrape(server.url)
                server.stop()
        finally:
            server.stop()
            empty.stop()
            receiver.close()
    open_before = _open(samples)
    open_after = _open(after)
    if not open_before == open_after == expected:
        raise RuntimeError(
            f"open incidents: {expected} sent, {open_before} before the restart, {open_after} after"
        )
    return {
        "events": sent,
        "open_incidents": open_before,
        "fill_s": fill_s,
        # The slower of the two ways a restart begins.
        "ready_s": max(killed_s, statistics.median(full_s)),
        "killed_ready_s": killed_s,
        "clean_ready_s": statistics.median(full_s),
        "empty_ready_s": statistics.median(empty_s),
        "starts_s": [round(s, 2) for s in full_s],
        "opened_total": metric(
            samples, "runbookd_incidents_opened_total", runbook="payment-channel-abnormal"
        ),
    }


def _open(samples: dict[Any, float]) -> float:
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "runbookd_incidents" and dict(labels).get("status") != "resolved"
    )


def figures(smoke: bool) -> list[Figure]:
    r = measure(2_000, 200, starts=1) if smoke else measure(100_000, 10_000)
    note = (
        f"{r['events']:,} stored events, {r['open_incidents']:.0f} open incidents (filled in "
        f"{r['fill_s']:.0f} s); after SIGKILL {r['killed_ready_s']:.1f} s, after clean stops "
        f"{r['starts_s']}"
    )
    return [
        Figure(
            "restart",
            f"start->ready, {r['open_incidents']:.0f} open / {r['events']:,} events",
            r["ready_s"],
            "s",
            GOAL_S,
            "<=",
            baseline=r["empty_ready_s"],
            baseline_name="empty database",
            note=note,
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args(argv)
    print(measure(args.events, args.incidents, args.starts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
