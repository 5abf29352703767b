"""Latency: alert received -> incident opened -> first connector call, at a steady open-loop load.

Alerts go to a real `runbookd serve` (whole bundled library, SQLite) at a fixed rate whatever the
server answers (open loop: a slow server cannot slow the offered load). Every pair of alerts is
one payment channel's failure rate and probe, which payment-channel-abnormal correlates into an
incident; its escalation pages and its first step reads the channel's status. The latency of a
pair is from the start of its second POST to the first request naming the channel that reaches
the loopback receiver standing in for PagerDuty and the platform. Goal: p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.ingest_bench import Latency, Pair, RawHttp, _send_paced, payment_notification  # noqa: E402
from bench.service import CHANNEL_RE, Call, Receiver, library_copy, poll, runbookd  # noqa: E402
from bench.suite import Figure  # noqa: E402

GOAL_P99_MS = 50.0


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile: the smallest value with at least ``q`` of the values at or below."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def bodies_for(pairs: list[Pair]) -> list[bytes]:
    from datetime import UTC, datetime

    starts = datetime.now(UTC).replace(microsecond=0)
    out = []
    for pair in pairs:
        for name in ("PaymentFailureRateHigh", "PaymentChannelProbeFailed"):
            out.append(payment_notification(name, pair.channel, starts).encode())
    return out


def measure(rate: float, seconds: float, warmup_pairs: int = 5) -> dict[str, object]:
    run = uuid.uuid4().hex[:6]
    first_call: dict[str, float] = {}

    def seen(call: Call) -> None:
        match = CHANNEL_RE.search(call.path) or CHANNEL_RE.search(call.body)
        if match is not None:
            first_call.setdefault(match.group(0), call.at)

    receiver = Receiver()
    receiver.on_call = seen
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
        work = Path(tmp)
        lib = library_copy(work / "runbooks", receiver.address)
        server = runbookd("runbookd", work / "srv", lib, receiver.address)
        try:
            server.start(timeout=120)
            # Warm-up: the first incident pays for template compilation and connection set-up.
            warm = [Pair(f"ch-{uuid.uuid4().hex[:6]}-{k}") for k in range(warmup_pairs)]
            asyncio.run(_paced(server.url, warm, rate))
            poll(lambda: all(p.channel in first_call for p in warm), 20, "warm-up calls")
            count = max(1, int(rate * seconds) // 2)
            pairs = [Pair(f"ch-{run}-{k}") for k in range(count)]
            lat = asyncio.run(_paced(server.url, pairs, rate))
            poll(lambda: all(p.channel in first_call for p in pairs), 120, "first calls")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; server log:\n{server.log()}") from exc
        finally:
            server.stop()
            receiver.close()
    ms = [(first_call[p.channel] - p.second_sent) * 1000 for p in pairs if p.second_sent]
    return {
        "pairs": len(pairs),
        "alerts": lat.sent,
        "failed_posts": lat.failed,
        "p50_ms": statistics.median(ms),
        "p99_ms": quantile(ms, 0.99),
        "max_ms": max(ms),
        "ack_p99_ms": quantile(lat.ack_ms, 0.99),
        "sender_late_p99_ms": quantile(lat.lateness_ms, 0.99),
    }


async def _paced(url: str, pairs: list[Pair], rate: float) -> Latency:
    lat = Latency(pairs)
    client = RawHttp(url)
    try:
        await _send_paced(client, bodies_for(pairs), rate, lat)
    finally:
        await client.close()
    if lat.failed:
        raise RuntimeError(f"webhook POSTs failed: {dict(lat.failures)}")
    return lat


def figures(smoke: bool, rate: float = 100.0, seconds: float | None = None) -> list[Figure]:
    result = measure(rate, seconds if seconds is not None else (1.0 if smoke else 20.0))
    note = (
        f"{result['pairs']} incidents at {rate:g} alerts/s; max {result['max_ms']:.1f} ms; "
        f"sender late p99 {result['sender_late_p99_ms']:.1f} ms"
    )
    ack = float(result["ack_p99_ms"])  # type: ignore[arg-type]
    return [
        Figure(
            "latency",
            "alert->first connector call p50",
            float(result["p50_ms"]),  # type: ignore[arg-type]
            "ms",
            GOAL_P99_MS,
            "<=",
            note=note,
        ),
        Figure(
            "latency",
            "alert->first connector call p99",
            float(result["p99_ms"]),  # type: ignore[arg-type]
            "ms",
            GOAL_P99_MS,
            "<=",
            baseline=ack,
            baseline_name="POST->202 p99",
            note=note,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=100.0, help="alerts per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load")
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = measure(args.rate, args.seconds)
    for key, value in result.items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")
    print(f"took {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
