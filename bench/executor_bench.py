"""Executor benchmark: 1,000 concurrent connector calls against a slow (100 ms) local endpoint.

    .venv/bin/python bench/executor_bench.py                    # 1,000 calls; 16, 32, 64 workers
    .venv/bin/python bench/executor_bench.py --workers 64 --calls 10000
    .venv/bin/python bench/executor_bench.py --quick            # smoke run (tests/unit/bench)
    .venv/bin/python bench/executor_bench.py --json             # one machine-readable object

What runs is the service's own path minus the store: ``engine.executor.Executor`` with the real
``http`` connector (``connectors.registry.load_specs()["http"]``) and the service's own client
(``runbookd.service.outbound.outbound_client``: stock httpx since 2026-12-08, one connection per
worker kept alive), on uvloop as under ``runbookd serve`` (``--loop asyncio``
for the plain loop). The baseline is stock httpx (its own pool; ``--keepalive`` keeps one
connection per worker alive there too).
The executor's ``WorkPort`` is an in-memory one here: it hands out the not-yet-finished calls,
oldest first, minus those in flight (what ``OutboxPort.pending`` selects from the outbox), and
records every ``finish``. So the figures are the executor's and the connector's, not the
database's.

The endpoint is a raw ASGI app under uvicorn in a separate process (its own event loop and,
on a multi-core machine, its own core) that answers every request after ``--delay`` seconds and
counts requests by ``Idempotency-Key`` (the connector sends the call id there) and the most
requests it held at once.

Per worker count: one timed pass, then one pass under tracemalloc (which slows Python down, so
its time is not reported) for the peak of Python allocations. Checked every time: each call
was handed out once, finished once and ok; the endpoint saw each call id exactly once.
The wall time is compared with the ideal ``ceil(calls / workers) * delay`` (the pool runs that
many waves of ``delay`` each) and with bare httpx under a semaphore of the same size, timed in the
same run. Memory: the growth of the process's peak RSS over the pass, and the peak of Python
allocations under tracemalloc; both must stay bounded because the executor claims at most
``4 * workers`` calls at a time, whatever the backlog (``--max-rss-growth-mib`` makes a larger
growth a failure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `engine.*` and `connectors.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from runbookd.connectors.registry import load_specs
from runbookd.engine.executor import Executor, Outcome, Work
from runbookd.service.outbound import outbound_client

DEFAULT_WORKERS = (16, 32, 64)
DEFAULT_CALLS = 1_000
DEFAULT_DELAY = 0.1
#: Peak RSS growth (MiB) over one worker count's passes above which the run fails.
DEFAULT_MAX_RSS_GROWTH_MIB = 64.0

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# --- the slow endpoint (its own process) --------------------------------------------------------


class SlowApp:
    """ASGI: every request but ``/stats`` and ``/reset`` is answered after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.reset()

    def reset(self) -> None:
        self.keys: Counter[str] = Counter()
        self.requests = 0
        self.bodies_naming_their_call = 0
        self.inflight = 0
        self.max_inflight = 0

    def stats(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "distinct_keys": len(self.keys),
            "repeated_keys": sum(1 for n in self.keys.values() if n > 1),
            "requests_without_key": self.keys.get("", 0),
            "bodies_naming_their_call": self.bodies_naming_their_call,
            "max_inflight": self.max_inflight,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = bool(message.get("more_body"))
        path = scope["path"]
        if path == "/stats":
            await _respond(send, self.stats())
            return
        if path == "/reset":
            self.reset()
            await _respond(send, {"ok": True})
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key", b"").decode()
        self.requests += 1
        self.keys[key] += 1
        with contextlib.suppress(ValueError):
            if json.loads(body).get("call_id") == key:
                self.bodies_naming_their_call += 1
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.inflight -= 1
        await _respond(send, {"ok": True, "call_id": key})


async def _respond(send: Send, data: dict[str, Any]) -> None:
    payload = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def serve(port: int, delay: float) -> None:
    import uvicorn

    config = uvicorn.Config(
        SlowApp(delay),
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="off",
        backlog=4096,
    )
    uvicorn.Server(config).run()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Endpoint:
    """The slow endpoint's process: started, asked for its counters, stopped."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Endpoint:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", str(self.port)]
            + ["--delay", str(self.delay)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the endpoint exited with {self.proc.returncode}")
            try:
                self.stats()
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)  # a polling interval while the process starts

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stats(self) -> dict[str, int]:
        data: dict[str, int] = httpx.get(self.url + "/stats", timeout=5).json()
        return data

    def reset(self) -> None:
        httpx.post(self.url + "/reset", timeout=5).raise_for_status()


# --- the executor's side --------------------------------------------------------------------------


class BenchPort:
    """``engine.executor.WorkPort`` over a fixed set of calls, recording what the executor does.

    ``pending`` returns the unfinished calls, oldest first, minus ``exclude`` (the outbox query);
    ``finish`` removes a call and counts it. Thread-safe: ``pending`` runs in a worker thread.
    """

    def __init__(self, items: Sequence[Work]) -> None:
        self.total = len(items)
        self._lock = threading.Lock()
        self._pending: dict[str, Work] = {w.call_id: w for w in items}
        self.handed_out: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self.failed: dict[str, str] = {}
        self.call_seconds: list[float] = []
        self.pending_calls = 0
        self.max_in_flight = 0
        self.last_finish = 0.0
        self.done = asyncio.Event()

    def pending(self, limit: int, exclude: frozenset[str]) -> list[Work]:
        with self._lock:
            self.pending_calls += 1
            self.max_in_flight = max(self.max_in_flight, len(exclude))
            out: list[Work] = []
            for call_id, work in self._pending.items():
                if len(out) >= limit:
                    break
                if call_id not in exclude:
                    out.append(work)
            self.handed_out.update(w.call_id for w in out)
            return out

    async def finish(self, work: Work, outcome: Outcome) -> None:
        with self._lock:
            self._pending.pop(work.call_id, None)
            self.finished[work.call_id] += 1
            self.call_seconds.append(outcome.seconds)
            status = (outcome.result or {}).get("status_code")
            if outcome.error is not None or status != 200:
                self.failed[work.call_id] = outcome.error or f"status {status}"
            complete = len(self.finished) == self.total
        if complete:
            self.last_finish = time.perf_counter()
            self.done.set()


def make_work(run: str, calls: int, url: str) -> list[Work]:
    return [
        Work(
            call_id=(call_id := f"{run}-{i:06d}"),
            kind="run_step",
            data={
                "connector": "http",
                "params": {
                    "method": "POST",
                    "url": f"{url}/remediate",
                    "json": {"call_id": call_id, "incident": f"INC-{i}", "action": "restart"},
                },
                "timeout": "5s",
            },
        )
        for i in range(calls)
    ]


@dataclass
class Pass:
    """One pass of all calls through one executor."""

    seconds: float
    cpu_seconds: float
    port: BenchPort
    server: dict[str, int]
    maxrss_before_kib: int
    maxrss_after_kib: int
    rss_before_kib: int
    rss_after_kib: int
    traced_peak_bytes: int | None = None
    traced_retained_bytes: int | None = None
    problems: list[str] = field(default_factory=list)
    #: cancels of ``Executor.run`` that did not stop it (see ``stop``)
    swallowed_cancels: int = 0


async def stop(task: asyncio.Task[None]) -> int:
    """Cancel ``Executor.run`` until it stops; returns how many cancels it swallowed.

    On Python 3.11 ``asyncio.wait_for`` returns the inner result instead of raising when the
    cancel arrives just after the awaited future completed (CPython gh-86296, fixed in 3.12).
    ``Executor.run`` used to wait for its wake-up that way, and every finished call sets the
    wake-up, so a cancel right after a call finished was lost (in 6 of 12 passes of a full run)
    and ``Service.stop``, which cancels once, hung. It waits with ``asyncio.timeout`` now; a
    swallowed cancel fails the run (``summarise``).
    """
    swallowed = -1
    while not task.done():
        swallowed += 1
        task.cancel()
        await asyncio.wait({task}, timeout=2.0)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return max(swallowed, 0)


def _maxrss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def _rss_kib() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:  # not Linux
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def client(keepalive: bool, workers: int) -> httpx.AsyncClient:
    """Stock httpx for the baseline (httpx's defaults: 20 connections kept alive), or with
    ``keepalive`` as many kept alive as there are workers."""
    if not keepalive:
        return httpx.AsyncClient()
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=max(100, workers), max_keepalive_connections=workers)
    )


async def executor_pass(
    endpoint: Endpoint,
    run: str,
    calls: int,
    workers: int,
    *,
    traced: bool,
    timeout: float,
) -> Pass:
    """All calls through a fresh ``Executor`` and client; ``traced``: under tracemalloc."""
    items = make_work(run, calls, endpoint.url)
    port = BenchPort(items)
    await asyncio.to_thread(endpoint.reset)
    specs = {"http": load_specs(include_plugins=False)["http"]}
    maxrss_before, rss_before = _maxrss_kib(), _rss_kib()
    if traced:
        tracemalloc.start()
        tracemalloc.reset_peak()
    traced_start = tracemalloc.get_traced_memory()[0] if traced else 0
    problems: list[str] = []
    async with outbound_client(workers) as http:
        executor = Executor(specs, port, http, workers=workers, environ={})
        cpu0, t0 = time.process_time(), time.perf_counter()
        task = asyncio.create_task(executor.run())
        executor.wake()
        try:
            await asyncio.wait_for(port.done.wait(), timeout)
        except TimeoutError:
            problems.append(f"only {len(port.finished)} of {calls} calls finished in {timeout}s")
        seconds = (port.last_finish or time.perf_counter()) - t0
        cpu = time.process_time() - cpu0
        swallowed = await stop(task)
        await executor.drain()
        del executor, task
    traced_peak = traced_retained = None
    if traced:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced_peak, traced_retained = peak - traced_start, current - traced_start
    result = Pass(
        seconds=seconds,
        cpu_seconds=cpu,
        port=port,
        server=await asyncio.to_thread(endpoint.stats),
        maxrss_before_kib=maxrss_before,
        maxrss_after_kib=_maxrss_kib(),
        rss_before_kib=rss_before,
        rss_after_kib=_rss_kib(),
        traced_peak_bytes=traced_peak,
        traced_retained_bytes=traced_retained,
        problems=problems,
        swallowed_cancels=swallowed,
    )
    result.problems += verify(result, calls, workers)
    return result


def verify(result: Pass, calls: int, workers: int) -> list[str]:
    """Every call handed out once, finished once and ok, seen once by the endpoint."""
    port, server, problems = result.port, result.server, []
    if len(port.finished) != calls:
        problems.append(f"{calls - len(port.finished)} calls never finished")
    if twice := [c for c, n in port.finished.items() if n != 1]:
        problems.append(f"{len(twice)} calls finished more than once, e.g. {twice[0]}")
    if again := [c for c, n in port.handed_out.items() if n != 1]:
        problems.append(f"{len(again)} calls handed out more than once, e.g. {again[0]}")
    if port.failed:
        first = next(iter(port.failed.items()))
        problems.append(f"{len(port.failed)} calls failed, e.g. {first[0]}: {first[1]}")
    if server["requests"] != calls or server["distinct_keys"] != calls:
        problems.append(
            f"the endpoint saw {server['requests']} requests for {server['distinct_keys']} "
            f"call ids, expected {calls} and {calls}"
        )
    if server["repeated_keys"] or server["requests_without_key"]:
        problems.append(f"the endpoint saw repeated or missing call ids: {server}")
    if server["bodies_naming_their_call"] != server["requests"]:
        problems.append(
            f"{server['requests'] - server['bodies_naming_their_call']} bodies did not arrive "
            "intact"
        )
    if server["max_inflight"] > workers:
        problems.append(f"{server['max_inflight']} requests at once with {workers} workers")
    if port.max_in_flight > workers * 4:
        problems.append(f"the executor held {port.max_in_flight} calls, more than 4 x workers")
    return problems


@dataclass
class BaselinePass:
    seconds: float
    cpu_seconds: float
    errors: int
    server: dict[str, int]


async def httpx_pass(
    endpoint: Endpoint, run: str, calls: int, workers: int, *, keepalive: bool = False
) -> BaselinePass:
    """The same requests with bare httpx under a semaphore: what the HTTP client alone costs."""
    await asyncio.to_thread(endpoint.reset)
    sem = asyncio.Semaphore(workers)
    url = f"{endpoint.url}/remediate"
    async with client(keepalive, workers) as http:

        async def one(i: int) -> None:
            call_id = f"{run}-{i:06d}"
            body = {"call_id": call_id, "incident": f"INC-{i}", "action": "restart"}
            async with sem:
                response = await http.post(url, json=body, headers={"Idempotency-Key": call_id})
                response.raise_for_status()

        cpu0, t0 = time.process_time(), time.perf_counter()
        outcomes = await asyncio.gather(*(one(i) for i in range(calls)), return_exceptions=True)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    errors = sum(1 for o in outcomes if isinstance(o, BaseException))
    return BaselinePass(seconds, cpu, errors, await asyncio.to_thread(endpoint.stats))


def ideal_seconds(calls: int, workers: int, delay: float) -> float:
    """The wall time of a perfect pool: ``ceil(calls / workers)`` waves of ``delay`` each."""
    return math.ceil(calls / workers) * delay


def _quantiles(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99
    return {"p50": round(q[49], 1), "p99": round(q[98], 1), "max": round(ms[-1], 1)}


def summarise(
    timed: list[Pass],
    traced: Pass,
    baseline: list[BaselinePass],
    calls: int,
    workers: int,
    delay: float,
    max_rss_growth_mib: float = DEFAULT_MAX_RSS_GROWTH_MIB,
) -> dict[str, Any]:
    ideal = ideal_seconds(calls, workers, delay)
    median = sorted(timed, key=lambda p: p.seconds)[len(timed) // 2]
    base_median = statistics.median(b.seconds for b in baseline)
    # Peak RSS is a high-water mark of the process: its growth over these passes is what the
    # executor (and the client) needed on top of whatever ran before.
    rss_growth_mib = (max(p.maxrss_after_kib for p in timed) - timed[0].maxrss_before_kib) / 1024
    problems = [f"timed pass {i + 1}: {p}" for i, t in enumerate(timed) for p in t.problems]
    problems += [
        f"httpx pass {i + 1}: {b.errors} errors, endpoint {b.server}"
        for i, b in enumerate(baseline)
        if b.errors or b.server["requests"] != calls
    ]
    swallowed = sum(p.swallowed_cancels for p in [*timed, traced])
    if swallowed:
        problems.append(f"Executor.run ignored {swallowed} cancels (see stop())")
    if rss_growth_mib > max_rss_growth_mib:
        problems.append(
            f"peak RSS grew {rss_growth_mib:.1f} MiB, more than the bound {max_rss_growth_mib} MiB"
        )
    return {
        "workers": workers,
        "calls": calls,
        "ideal_seconds": round(ideal, 3),
        "seconds": round(median.seconds, 3),
        "ratio": round(median.seconds / ideal, 3),
        "rounds_seconds": [round(p.seconds, 2) for p in timed],
        "calls_per_second": round(calls / median.seconds, 1),
        "cpu_ms_per_call": round(median.cpu_seconds * 1000 / calls, 2),
        "call_ms": _quantiles(median.port.call_seconds),
        "endpoint_max_inflight": max(p.server["max_inflight"] for p in timed),
        "executor_max_claimed": max(p.port.max_in_flight for p in timed),
        "maxrss_kib": {
            "before": timed[0].maxrss_before_kib,
            "after": max(p.maxrss_after_kib for p in timed),
        },
        "rss_kib": {"before": timed[0].rss_before_kib, "after": timed[-1].rss_after_kib},
        "rss_growth_mib": round(rss_growth_mib, 1),
        "max_rss_growth_mib": max_rss_growth_mib,
        # above 1: the executor is slower than bare httpx with the same concurrency limit
        "vs_httpx": round(median.seconds / base_median, 3),
        "httpx_alone": {
            "seconds": round(base_median, 3),
            "ratio": round(base_median / ideal, 3),
            "rounds_seconds": [round(b.seconds, 2) for b in baseline],
            "cpu_ms_per_call": round(
                statistics.median(b.cpu_seconds for b in baseline) * 1000 / calls, 2
            ),
        },
        "traced": {
            "peak_bytes": traced.traced_peak_bytes,
            "retained_bytes": traced.traced_retained_bytes,
            "maxrss_after_kib": traced.maxrss_after_kib,
            # tracemalloc slows Python several times: a call may miss its 5 s deadline here
            "problems": traced.problems,
        },
        "swallowed_cancels": swallowed,
        "passes": len(timed) + 1,
        "ok": not problems,
        "problems": problems,
    }


async def run_all(args: argparse.Namespace, endpoint: Endpoint) -> list[dict[str, Any]]:
    rows = []
    for workers in args.workers:
        timeout = max(30.0, args.calls / workers * args.delay * 10)
        timed: list[Pass] = []
        baseline: list[BaselinePass] = []
        for r in range(args.rounds):  # interleaved, so both sides see the same neighbours
            timed.append(
                await executor_pass(
                    endpoint,
                    f"w{workers}-r{r}",
                    args.calls,
                    workers,
                    traced=False,
                    timeout=timeout,
                )
            )
            baseline.append(
                await httpx_pass(
                    endpoint, f"w{workers}-b{r}", args.calls, workers, keepalive=args.keepalive
                )
            )
        traced = await executor_pass(
            endpoint,
            f"w{workers}-traced",
            args.calls,
            workers,
            traced=True,
            timeout=timeout * 5,
        )
        rows.append(
            summarise(
                timed, traced, baseline, args.calls, workers, args.delay, args.max_rss_growth_mib
            )
        )
    return rows


def machine(loop: str) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:  # not Linux
        model = platform.processor() or "unknown"
    # httpcore 1.0.9 imports sniffio at every lock set-up; a failed import is not cached.
    sniffio_installed = importlib.util.find_spec("sniffio") is not None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loop": loop,
        "httpx": version("httpx"),
        "httpcore": version("httpcore"),
        "uvicorn": version("uvicorn"),
        "sniffio": sniffio_installed,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    loop = args.loop
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            loop = "asyncio"
    load_before = [round(x, 2) for x in os.getloadavg()]
    with Endpoint(args.delay) as endpoint:
        if loop == "uvloop":
            rows = uvloop.run(run_all(args, endpoint))
        else:
            rows = asyncio.run(run_all(args, endpoint))
    return {
        "machine": {**machine(loop), "load_average_before": load_before},
        "calls": args.calls,
        "keepalive": "one per worker" if args.keepalive else "httpx default (20)",
        "delay_s": args.delay,
        "rounds": args.rounds,
        "results": rows,
        "ok": all(r["ok"] for r in rows),
    }


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"machine   {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['platform']}",
        f"          loop {m['loop']}, httpx {m['httpx']}, httpcore {m['httpcore']}, "
        f"sniffio {'installed' if m['sniffio'] else 'absent'}, "
        f"load {m.get('load_average_before')} before, {m['load_average']} after, "
        f"{m['date']}",
        f"work      {result['calls']:,} http calls per pass, endpoint answers after "
        f"{result['delay_s'] * 1000:.0f} ms; per worker count {result['rounds']} timed rounds "
        "(median) interleaved with bare httpx, then one pass under tracemalloc; connections "
        f"kept alive: {result['keepalive']}",
        "          ideal = ceil(calls / workers) x delay; actual/ideal and httpx alone (its "
        "/ideal) from the same run; vs httpx = executor wall / httpx wall",
        "",
        f"{'workers':>7} {'ideal s':>7} {'wall s':>6} {'actual/ideal':>12} {'calls/s':>7} "
        f"{'CPU ms/call':>11} {'call p50/p99 ms':>15} {'at once':>7} {'claimed':>7} "
        f"{'maxrss MiB':>10} {'+RSS MiB':>8} {'py peak MiB':>11} {'httpx alone s':>13} "
        f"{'vs httpx':>8} {'rounds s':>8}",
    ]
    for r in result["results"]:
        rss, peak, base = r["maxrss_kib"], r["traced"]["peak_bytes"], r["httpx_alone"]
        lines.append(
            f"{r['workers']:>7} {r['ideal_seconds']:>7.2f} {r['seconds']:>6.2f} "
            f"{r['ratio']:>12.2f} {r['calls_per_second']:>7.0f} {r['cpu_ms_per_call']:>11.2f} "
            f"{r['call_ms']['p50']:>7.1f}/{r['call_ms']['p99']:<7.1f} "
            f"{r['endpoint_max_inflight']:>7} {r['executor_max_claimed']:>7} "
            f"{_mib(rss['before']) + '->' + _mib(rss['after']):>10} "
            f"{r['rss_growth_mib']:>8.1f} "
            f"{(peak or 0) / 2**20:>11.1f} "
            f"{base['seconds']:>6.2f} ({base['ratio']:.2f}) "
            f"{r['vs_httpx']:>8.2f} "
            f"{' '.join(f'{s:.2f}' for s in r['rounds_seconds'])}"
        )
    lines.append("")
    for r in result["results"]:
        verdict = "ok" if r["ok"] else "FAILED: " + "; ".join(r["problems"])
        lines.append(
            f"workers {r['workers']}: every call handed out once, finished once and ok, "
            f"seen once by the endpoint: {verdict}"
        )
        if r["traced"]["problems"]:
            lines.append(f"  under tracemalloc: {'; '.join(r['traced']['problems'])}")
    swallowed = sum(r["swallowed_cancels"] for r in result["results"])
    passes = sum(r["passes"] for r in result["results"])
    lines.append(
        f"Executor.run ignored a cancel in {swallowed} of {passes} passes (0 expected; see stop())"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, nargs="+", default=list(DEFAULT_WORKERS))
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="calls per pass")
    parser.add_argument("--delay", type=float, default=DEFAULT_DELAY, help="endpoint seconds")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per worker count")
    parser.add_argument(
        "--max-rss-growth-mib",
        type=float,
        default=DEFAULT_MAX_RSS_GROWTH_MIB,
        help="fail when peak RSS grows more than this over one worker count's passes",
    )
    parser.add_argument(
        "--keepalive",
        action="store_true",
        help="keep as many connections alive as there are workers (the service keeps httpx's 20)",
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 60 calls, 20 ms, 8 workers, 1 round"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.delay, args.workers, args.rounds = 60, 0.02, [8], 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.delay)
        return 0
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
