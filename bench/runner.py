"""The benchmark suite in one command: `python -m bench` (`make bench`), `--smoke` for CI sizes.

Each benchmark measures its figure and a baseline in the same run; the runner prints every figure
against its baseline and goal, then (full runs, or ``--record``) writes the JSON results and
appends a row per figure to bench/RESULTS.md. A missed goal is a finding, not a failure: the exit
status is 1 only when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import (  # noqa: E402
    burst_bench,
    engine_bench,
    http_pool_bench,
    ingest_bench,
    latency_bench,
    memory_bench,
    offline_bench,
    restart_bench,
)
from bench.suite import (  # noqa: E402
    RESULTS_DIR,
    RESULTS_MD,
    Figure,
    append_rows,
    line,
    machine,
    write_json,
)

ENGINE_GOAL = 0.5


def engine_figures(
    smoke: bool, events: int | None = None, rounds: int | None = None
) -> list[Figure]:
    sizes = ["--events", "400", "--rounds", "1", "--warmup", "100"] if smoke else []
    if events is not None:
        sizes += ["--events", str(events), "--warmup", str(min(5_000, events))]
    if rounds is not None:
        sizes += ["--rounds", str(rounds)]
    r = engine_bench.run(engine_bench.parse_args(sizes))
    rate = r["events_per_second"]
    return [
        Figure(
            "engine",
            "events/s, compiled library vs raw durable_rules",
            float(rate["engine"]),
            "events/s",
            ENGINE_GOAL * rate["raw"],
            ">=",
            baseline=float(rate["raw"]),
            baseline_name="raw durable_rules",
            note=f"{r['events']:,} alerts x {r['rounds']} rounds; goal is 0.5 x baseline; "
            f"vs raw-routed {r['ratios']['engine/raw-routed']['median']:.2f}",
        )
    ]


def ingest_figures(smoke: bool) -> list[Figure]:
    args = ingest_bench.parse_args(["--skip-latency", *(["--quick"] if smoke else [])])
    _, t, _ = ingest_bench.measure(args, ingest_bench.make_plan(args))
    assert t is not None  # the throughput phase was asked for
    rps = ingest_bench._med(t.unique)
    bare = ingest_bench._med(t.bare)
    return [
        Figure(
            "ingest",
            "webhook req/s, durable vs bare FastAPI",
            rps,
            "req/s",
            ingest_bench.THROUGHPUT_GOAL * bare,
            ">=",
            baseline=bare,
            baseline_name="bare FastAPI",
            note=f"wrk, {args.connections} connections; goal is 0.8 x baseline",
        )
    ]


def benchmarks(args: argparse.Namespace) -> dict[str, Callable[[bool], list[Figure]]]:
    """Every benchmark of the suite, in the order they run (cheap and independent first)."""
    return {
        "offline": offline_bench.figures,
        "engine": lambda smoke: engine_figures(smoke, args.engine_events, args.engine_rounds),
        "ingest": ingest_figures,
        "latency": latency_bench.figures,
        "burst": burst_bench.figures,
        "restart": restart_bench.figures,
        "memory": lambda smoke: memory_bench.figures(smoke, args.memory_events),
        "httppool": http_pool_bench.figures,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "--smoke", action="store_true", help="small sizes, a minute or so; records nothing"
    )
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    p.add_argument(
        "--memory-events", type=int, help="events of the memory benchmark (full run: 1,000,000)"
    )
    p.add_argument("--engine-events", type=int, help="alerts per engine round (default 100,000)")
    p.add_argument("--engine-rounds", type=int, help="timed engine rounds (default 5)")
    p.add_argument("--record", action="store_true", help="record a smoke run too")
    p.add_argument("--no-record", action="store_true", help="print only")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--results-md", type=Path, default=RESULTS_MD)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench" + ("" if argv is None else " " + shlex.join(argv))
    if argv is None:
        command = "python -m bench " + shlex.join(sys.argv[1:])
    suite = benchmarks(args)
    unknown = set(args.only or []) - suite.keys()
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(suite)}")
        return 2
    info = machine()  # the load average before the suite adds its own
    when = datetime.now(UTC)
    print(
        f"machine: {info['nproc']} CPU, {info['cpu']}, {info['ram_gib']} GiB RAM, "
        f"load {info['load_average']}"
    )
    figures: list[Figure] = []
    failed: list[str] = []
    for name, bench in suite.items():
        if args.only and name not in args.only:
            continue
        started = time.monotonic()
        try:
            got = bench(args.smoke)
        except Exception:
            failed.append(name)
            print(f"{name}: FAILED\n{traceback.format_exc()}", flush=True)
            continue
        for fig in got:
            print(line(fig), flush=True)
            if fig.note:
                print(f"{'':>9}{fig.note}", flush=True)
        print(f"{'':>9}({name} took {time.monotonic() - started:.0f} s)", flush=True)
        figures.extend(got)
    missed = [f for f in figures if not f.met]
    print(f"\n{len(figures)} figures, {len(figures) - len(missed)} goals met, {len(missed)} missed")
    if (args.record or not args.smoke) and not args.no_record and figures:
        info["load_average_after"] = machine()["load_average"]
        path = write_json(figures, info, command, when, args.results_dir)
        append_rows(figures, info, command, when, args.results_md)
        print(f"results: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    if failed:
        print(f"benchmarks that could not run: {', '.join(failed)}")
        return 1
    return 0
