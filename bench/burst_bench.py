"""Burst: 1,000 distinct alerts in grouped webhook bodies, fully digested.

A real `runbookd serve` (whole bundled library, SQLite) gets 1,000 new alerts at once, as
Alertmanager sends them with ``group_by: [alertname]``: one group per alert name, split into bodies
of at most 100 alerts, 4 bodies in flight. 20 % of the alerts are the two halves of
payment-channel-abnormal for 100 channels (100 incidents); the rest is noise no runbook uses.
Digested means every body answered 202 (stored), every incident opened and its first connector
call reached the loopback receiver. The same bodies POSTed to the bare FastAPI endpoint
(bench/bare_app.py) are the baseline. Goal: <= 0.5 s.
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

from bench.ingest_bench import bare_server  # noqa: E402
from bench.service import (  # noqa: E402
    CHANNEL_RE,
    Call,
    Receiver,
    grouped,
    library_copy,
    noise_alert,
    payment_pairs,
    poll,
    post_all,
    runbookd,
)
from bench.suite import Figure  # noqa: E402

GOAL_S = 0.5
PER_BODY = 100
CONCURRENCY = 4


def burst(alerts: int, incidents: int, seq0: int) -> tuple[list[bytes], set[str]]:
    """Bodies carrying ``alerts`` distinct alerts, ``incidents`` of whose channel pairs match."""
    run = uuid.uuid4().hex[:6]
    pairs = payment_pairs(run, 0, incidents)
    noise = [noise_alert(seq0 + i, seq0) for i in range(alerts - len(pairs))]
    channels = {p["labels"]["channel"] for p in pairs}
    return grouped([*noise, *pairs], PER_BODY), channels


def measure(alerts: int, incidents: int, rounds: int) -> dict[str, Any]:
    first_call: dict[str, float] = {}

    def seen(call: Call) -> None:
        match = CHANNEL_RE.search(call.path) or CHANNEL_RE.search(call.body)
        if match is not None:
            first_call.setdefault(match.group(0), call.at)

    receiver = Receiver()
    receiver.on_call = seen
    digest: list[float] = []
    stored: list[float] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="burst-bench-") as tmp:
        work = Path(tmp)
        lib = library_copy(work / "runbooks", receiver.address)
        server = runbookd("runbookd", work / "srv", lib, receiver.address)
        base = bare_server(work / "bare")
        try:
            server.start(timeout=120)
            base.start()
            # Round 0 warms both servers (imports, templates, connections) and is not counted.
            for round_no in range(rounds + 1):
                bodies, channels = burst(alerts, incidents, (round_no + 1) * 1_000_000)
                start = time.perf_counter()
                sent = post_all(server.url, bodies, CONCURRENCY)
                acked = time.perf_counter()
                if not sent.ok() or sent.accepted != alerts:
                    raise RuntimeError(f"burst not stored: {sent}")
                poll(lambda ch=channels: ch <= first_call.keys(), 120, "first calls")  # type: ignore[misc]
                done = max(acked, *(first_call[c] for c in channels))
                start_bare = time.perf_counter()
                bare_sent = post_all(base.url, bodies, CONCURRENCY)
                bare_s = time.perf_counter() - start_bare
                if not bare_sent.ok():
                    raise RuntimeError(f"bare endpoint: {bare_sent}")
                if round_no:
                    digest.append(done - start)
                    stored.append(acked - start)
                    bare.append(bare_s)
        finally:
            server.stop()
            base.stop()
            receiver.close()
    return {
        "alerts": alerts,
        "incidents": incidents,
        "bodies": len(bodies),
        "digest_s": statistics.median(digest),
        "stored_s": statistics.median(stored),
        "bare_s": statistics.median(bare),
        "rounds_digest_s": [round(d, 3) for d in digest],
    }


def figures(smoke: bool) -> list[Figure]:
    r = measure(200, 20, 1) if smoke else measure(1000, 100, 3)
    note = (
        f"{r['alerts']} alerts, {r['incidents']} incidents, {r['bodies']} bodies; "
        f"all stored (202) after {r['stored_s']:.3f} s; rounds {r['rounds_digest_s']}"
    )
    return [
        Figure(
            "burst",
            f"{r['alerts']} alerts fully digested",
            r["digest_s"],
            "s",
            GOAL_S,
            "<=",
            baseline=r["bare_s"],
            baseline_name="bare FastAPI POSTs",
            note=note,
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(measure(args.alerts, args.incidents, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
