"""Connector HTTP pool: the connectors' own keep-alive pool against stock httpx, at paced rates.

Issue 16 §2 asked whether ``connectors/transport.py`` (a pool of our own over httpcore's
connections, on the asyncio network layer of ``connectors/tcp.py``) was still worth owning; it was
not (docs/decisions.md), and it lives on as ``bench/reference_pool`` so the decision can be
re-measured. Both
sides make the same connector calls (``connectors.web.request``: a small JSON POST, the answer
read) to a real HTTP/1.1 server on loopback, in a process of its own so that its CPU is not
counted. The pools are sized alike, to the workers: ours with ``max_connections`` =
``max_keepalive_connections`` = workers, stock ``httpx.AsyncClient(limits=Limits(...))`` the same.

Rates: 10, 100 and 1,000 calls/s paced (each call starts at its scheduled time, at most
``workers`` at once, as the executor runs them), and flat out (``workers`` loops back to back).
Before each measured phase one call opens a connection, so the pool then grows only to what the
rate needs (steady state). ``--warm 16`` opens a connection per worker first instead, as after a
burst of an incident: the case where httpx's pool scans most (idle connections are scanned until
they expire, 5 s later).

Per side and rate: client CPU per call (``time.process_time``), and latency p50/p99 (from the
scheduled start when paced, so falling behind counts). Sides alternate within each round; the
figure is the median over rounds, with the spread of the per-round ratio ours/stock.

Run: ``.venv/bin/python bench/http_pool_bench.py`` (``make bench-httppool``); ``--quick`` for a
smoke run; ``--json`` for machine-readable output. In the suite: ``python -m bench --only
httppool``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.reference_pool.transport import PooledTransport  # noqa: E402
from bench.suite import Figure, machine  # noqa: E402
from runbookd.connectors import web  # noqa: E402

#: Calls per second; None is flat out.
RATES: tuple[int | None, ...] = (10, 100, 1000, None)
SIDES = ("ours", "stock")
#: Calls per phase, full run and --quick.
CALLS = {10: 30, 100: 300, 1000: 2000, None: 3000}
QUICK_CALLS = {10: 4, 100: 10, 1000: 20, None: 40}
#: Stock httpx is "within noise" when its CPU per call is at most this much above ours.
NOISE = 1.25
WORKERS = 16
ANSWER = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
)


def rate_name(rate: int | None) -> str:
    return "flat out" if rate is None else f"{rate}/s"


# -- the server: a process of its own ------------------------------------------------------------


class _Answering(asyncio.Protocol):
    """Answers every request on the connection with ANSWER, in one write."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport here

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in bytes(self.buf[:end]).split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buf) < end + 4 + length:
                return
            del self.buf[: end + 4 + length]
            assert self.transport is not None
            self.transport.write(ANSWER)


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Answering, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()  # until the benchmark terminates this process


class Server:
    """``python bench/http_pool_bench.py --serve`` as a child process, for one run."""

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        port = int(self.proc.stdout.readline())
        return f"http://127.0.0.1:{port}/hook"

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# -- the client ----------------------------------------------------------------------------------


def client(side: str, workers: int) -> httpx.AsyncClient:
    if side == "ours":
        pool = PooledTransport(max_connections=workers, max_keepalive_connections=workers)
        return httpx.AsyncClient(timeout=None, transport=pool)
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    return httpx.AsyncClient(timeout=None, limits=limits)


def _caller(http: httpx.AsyncClient, url: str) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        answer = await web.request(http, "bench", "POST", url, json={"incident": "bench"})
        if answer.status != 200:
            raise RuntimeError(f"the server answered {answer.status}")

    return call


async def _paced(
    call: Callable[[], Awaitable[None]], calls: int, rate: int, workers: int
) -> list[float]:
    # perf_counter, not loop.time(): uvloop's clock has a resolution of 1 ms.
    clock = time.perf_counter
    slots = asyncio.Semaphore(workers)
    latencies: list[float] = []

    async def one(due: float) -> None:
        async with slots:
            await call()
        latencies.append(clock() - due)

    tasks = []
    start = clock()
    for i in range(calls):
        due = start + i / rate
        ahead = due - clock()
        if ahead > 0:
            await asyncio.sleep(ahead)  # pacing a load generator, not waiting for a result
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    return latencies


async def _flat_out(call: Callable[[], Awaitable[None]], calls: int, workers: int) -> list[float]:
    clock = time.perf_counter
    latencies: list[float] = []
    left = [calls]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            began = clock()
            await call()
            latencies.append(clock() - began)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return latencies


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def phase(
    side: str, url: str, rate: int | None, calls: int, workers: int, warm: int
) -> dict[str, float]:
    """One side at one rate: CPU per call and latency quantiles (ms)."""
    async with client(side, workers) as http:
        call = _caller(http, url)
        await asyncio.gather(*(call() for _ in range(warm)))  # that many connections open
        cpu = time.process_time()
        if rate is None:
            latencies = await _flat_out(call, calls, workers)
        else:
            latencies = await _paced(call, calls, rate, workers)
        cpu = time.process_time() - cpu
    return {
        "calls": len(latencies),
        "cpu_ms_per_call": 1000 * cpu / len(latencies),
        "p50_ms": 1000 * _quantile(latencies, 0.50),
        "p99_ms": 1000 * _quantile(latencies, 0.99),
    }


async def measure(
    url: str, rounds: int, calls: dict[int | None, int], workers: int, warm: int
) -> list[dict[str, Any]]:
    runs: dict[tuple[int | None, str], list[dict[str, float]]] = {}
    for n in range(rounds):
        for rate in RATES:
            # Alternate which side goes first so that neither always runs on a warmer machine.
            for side in SIDES if n % 2 == 0 else SIDES[::-1]:
                runs.setdefault((rate, side), []).append(
                    await phase(side, url, rate, calls[rate], workers, warm)
                )
    rows = []
    for rate in RATES:
        row: dict[str, Any] = {"rate": rate_name(rate), "calls": calls[rate]}
        for side in SIDES:
            got = runs[(rate, side)]
            row[side] = {
                key: statistics.median(r[key] for r in got)
                for key in ("cpu_ms_per_call", "p50_ms", "p99_ms")
            }
            row[side]["rounds_cpu_ms_per_call"] = [round(r["cpu_ms_per_call"], 3) for r in got]
        ratios = [
            o["cpu_ms_per_call"] / s["cpu_ms_per_call"] if s["cpu_ms_per_call"] else float("nan")
            for o, s in zip(runs[(rate, "ours")], runs[(rate, "stock")], strict=True)
        ]
        stock = row["stock"]["cpu_ms_per_call"]
        row["cpu_ours_per_stock"] = row["ours"]["cpu_ms_per_call"] / stock if stock else None
        row["cpu_ours_per_stock_rounds"] = [round(r, 2) for r in ratios]
        rows.append(row)
    return rows


def _loop_runner() -> tuple[str, Callable[[Any], Any]]:
    try:
        import uvloop
    except ImportError:
        return "asyncio", asyncio.run
    return "uvloop", uvloop.run  # the service's loop under uvicorn


def run(rounds: int, quick: bool, workers: int = WORKERS, warm: int = 1) -> dict[str, Any]:
    info = machine()
    loop, runner = _loop_runner()
    with Server() as url:
        rows = runner(measure(url, rounds, QUICK_CALLS if quick else CALLS, workers, warm))
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return {
        "machine": {**info, "loop": loop, "httpx": httpx.__version__},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "workers": workers,
        "warm": warm,
        "rounds": rounds,
        "rows": rows,
    }


def figures(smoke: bool) -> list[Figure]:
    """For the suite: stock httpx's CPU per call against ours, per rate."""
    r = run(1 if smoke else 3, quick=smoke)
    out = []
    for row in r["rows"]:
        ours, stock = row["ours"], row["stock"]
        out.append(
            Figure(
                "httppool",
                f"CPU/call at {row['rate']}, stock httpx vs our pool",
                stock["cpu_ms_per_call"],
                "ms",
                NOISE * ours["cpu_ms_per_call"],
                "<=",
                baseline=ours["cpu_ms_per_call"],
                baseline_name="our pool",
                note=f"p50/p99 ms stock {stock['p50_ms']:.2f}/{stock['p99_ms']:.2f}, ours "
                f"{ours['p50_ms']:.2f}/{ours['p99_ms']:.2f}; ours/stock per round "
                f"{row['cpu_ours_per_stock_rounds']}; {r['workers']} workers",
            )
        )
    return out


def table(result: dict[str, Any]) -> str:
    head = (
        "| rate | calls | CPU ms/call ours | stock | ours/stock (rounds) "
        "| p50 ms ours / stock | p99 ms ours / stock |\n|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for row in result["rows"]:
        o, s = row["ours"], row["stock"]
        ratio = row["cpu_ours_per_stock"]
        lines.append(
            f"| {row['rate']} | {row['calls']} | {o['cpu_ms_per_call']:.3f} "
            f"| {s['cpu_ms_per_call']:.3f} "
            f"| {'-' if ratio is None else f'{ratio:.2f}'} ({', '.join(map(str, row['cpu_ours_per_stock_rounds']))}) "
            f"| {o['p50_ms']:.2f} / {s['p50_ms']:.2f} | {o['p99_ms']:.2f} / {s['p99_ms']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument(
        "--warm", type=int, default=1, help="connections opened before each phase (default 1)"
    )
    parser.add_argument("--quick", action="store_true", help="a few calls per phase, one round")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _, runner = _loop_runner()
        runner(_serve())
        return 0
    result = run(1 if args.quick else args.rounds, args.quick, args.workers, args.warm)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        m = result["machine"]
        print(
            f"{result['date']}: {m['nproc']} CPU, {m['cpu']}, {m['ram_gib']} GiB, Python "
            f"{m['python']}, {m['loop']}, httpx {m['httpx']}; load {m['load_average']} -> "
            f"{m['load_average_after']}; {result['workers']} workers, {result['warm']} warm, {result['rounds']} rounds"
        )
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
