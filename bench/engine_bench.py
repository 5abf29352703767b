"""runbookd against hand-written durable_rules on the same alerts, in one process and one run.

    make bench                                   # 100,000 alerts, 5 timed rounds
    .venv/bin/python bench/engine_bench.py --events 20000 --rounds 3 --json

Sides, each fed the whole stream once per round (fresh state every time):

* ``engine``  -- runbookd as the service runs it: ``Engine.ingest`` per event with the real
  ``Matcher`` on a clock set to each alert's receive time, ``Engine.advance`` when a timer is due
  (the worker's loop minus the journal); commands are produced and counted.
* ``matcher`` -- the compiled detect rulesets posted through ``engine.rules.Matcher`` with no
  runtime: projection, name routing, shards, pending halves retracted at the end of the window.
* ``raw``     -- bench/baseline.py: the same detection written directly on durable_rules (by hand;
  runbooks added later without a hand-written ruleset get a direct translation), every alert
  posted, wrapped as the durable_rules study recommends.
* ``raw-routed`` -- the same, but skipping rulesets whose alert names cannot match (the routing
  runbookd's compiler does), to show what the library itself costs.

Shared 2-core machines are noisy, so sides are interleaved round by round and compared by the
median of their rounds within this one run.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (make bench): make `bench.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baseline import HAND_WRITTEN, Expiry, RawService, translatable
from bench.workload import Workload, generate
from runbookd.engine.clock import VirtualClock
from runbookd.engine.commands import Command
from runbookd.engine.compiler import (
    ANCHOR,
    KEY_FIELD,
    SEQ_FIELD,
    CompiledRunbook,
    compile_runbook,
)
from runbookd.engine.events import Event
from runbookd.engine.keys import incident_key
from runbookd.engine.rules import Matcher, shard
from runbookd.engine.runtime import Engine
from runbookd.toolchain.library import load_library

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("engine", "matcher", "raw", "raw-routed")
#: the ratio the project wants: runbookd's engine at least half as fast as raw durable_rules
GOAL = 0.5


@dataclass
class Outcome:
    """One side's pass over the stream: its time and what it decided (to check agreement)."""

    seconds: float
    #: CPU time of this process: less disturbed than wall time when other tenants share the cores
    cpu_seconds: float
    firings: int
    detail: dict[str, int] = field(default_factory=dict)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _now()
    return wall - start[0], cpu - start[1]


# --- the sides ----------------------------------------------------------------------------------


def run_engine(compiled: Sequence[CompiledRunbook], work: Workload, limit: int) -> Outcome:
    """The production path: what runbookd.service.worker does per journal entry, without the store."""
    clock = VirtualClock(work.events[0].at)
    engine = Engine(compiled, clock, matcher=Matcher())
    out: list[Command] = []
    events = work.events[:limit]
    gc.collect()
    started = _now()
    for event in events:
        clock.set(event.at)
        out += engine.ingest(event)
        due = engine.next_due()
        if due is not None and due <= event.at:  # the worker ticks whenever a timer is due
            out += engine.advance()
    seconds, cpu = _since(started)
    kinds: Counter[str] = Counter(str(command.kind) for command in out)
    triggers = sum(1 for c in out if c.kind == "rule_fired" and c.data.get("role") == "trigger")
    return Outcome(seconds, cpu, triggers, dict(kinds))


def run_matcher(compiled: Sequence[CompiledRunbook], work: Workload, limit: int) -> Outcome:
    """engine/rules.py alone: the compiled trigger rulesets, posted the way Engine._detect posts."""
    matcher = Matcher()
    for item in compiled:
        for trigger_ruleset in item.triggers:
            matcher.load(trigger_ruleset.definition())
    expiry = Expiry()
    firings = 0
    events = work.events[:limit]
    gc.collect()
    started = _now()
    for seq, event in enumerate(events):
        for item in compiled:
            if item.names is None or event.name in item.names:
                firings += _detect(matcher, item, event, seq, expiry)
        for ruleset, doc, sid in expiry.due(event.at):
            matcher.retract(ruleset, doc, sid)
    seconds, cpu = _since(started)
    return Outcome(seconds, cpu, firings)


def _detect(matcher: Matcher, item: CompiledRunbook, event: Event, seq: int, expiry: Expiry) -> int:
    """Engine._detect's matching part: per trigger ruleset, project and post to the key's shard;
    a pending correlation half is retracted when its window ends."""
    key = incident_key(item, event)
    sid = shard(key)
    firings = 0
    for ruleset, trigger in zip(item.triggers, item.runbook.detection.triggers, strict=True):
        doc = ruleset.projection.project(event.get)
        doc.update(ANCHOR)
        doc[KEY_FIELD] = key
        doc[SEQ_FIELD] = seq
        result = matcher.post(ruleset.name, doc, sid)
        firings += len(result.firings)
        if result.pending and trigger.within is not None:
            expiry.schedule(event.at + trigger.within, ruleset.name, doc, sid)
    return firings


def run_raw(
    compiled: Sequence[CompiledRunbook], work: Workload, limit: int, *, routed: bool
) -> Outcome:
    service = RawService(compiled, routed=routed)
    pairs = list(zip(work.raw_docs[:limit], (e.at for e in work.events[:limit]), strict=True))
    gc.collect()
    started = _now()
    for doc, at in pairs:
        service.feed(doc, at)
    seconds, cpu = _since(started)
    return Outcome(
        seconds, cpu, service.firings, {"opened": service.opened, "resolved": service.closed}
    )


Runner = Callable[[Sequence[CompiledRunbook], Workload, int], Outcome]
RUNNERS: dict[str, Runner] = {
    "engine": run_engine,
    "matcher": run_matcher,
    "raw": lambda c, w, n: run_raw(c, w, n, routed=False),
    "raw-routed": lambda c, w, n: run_raw(c, w, n, routed=True),
}


# --- rounds and results -------------------------------------------------------------------------


def fresh(compiled: Sequence[CompiledRunbook]) -> list[CompiledRunbook]:
    """Compile again for every pass: loading a compiled ruleset into a Matcher lets
    durable_rules delete the ``run`` keys of its definition in place, so a CompiledRunbook can be
    loaded only once (an engine bug; see bench/RESULTS.md)."""
    return [compile_runbook(item.runbook) for item in compiled]


def measure(
    compiled: Sequence[CompiledRunbook], work: Workload, rounds: int, warmup: int
) -> dict[str, list[Outcome]]:
    """Warm every side up, then run them interleaved (engine, matcher, raw, raw-routed, ...)."""
    for name in SIDES:
        RUNNERS[name](fresh(compiled), work, warmup)
    results: dict[str, list[Outcome]] = {name: [] for name in SIDES}
    for _ in range(rounds):
        for name in SIDES:
            results[name].append(RUNNERS[name](fresh(compiled), work, len(work.events)))
    return results


#: (name in the output, faster-is-better side, baseline side)
RATIOS = (
    ("engine/raw", "engine", "raw"),
    ("matcher/raw", "matcher", "raw"),
    ("engine/raw-routed", "engine", "raw-routed"),
    ("matcher/raw-routed", "matcher", "raw-routed"),
)


def summarise(results: dict[str, list[Outcome]], events: int) -> dict[str, Any]:
    rates = {name: [events / o.seconds for o in outs] for name, outs in results.items()}
    cpu_rates = {name: [events / o.cpu_seconds for o in outs] for name, outs in results.items()}
    median = {name: statistics.median(r) for name, r in rates.items()}
    cpu_median = {name: statistics.median(r) for name, r in cpu_rates.items()}
    ratios = {}
    for label, side, base in RATIOS:
        # Per round too: a round's sides ran back to back, so they saw about the same load.
        paired = [b.seconds / s.seconds for s, b in zip(results[side], results[base], strict=True)]
        ratios[label] = {
            "median": round(median[side] / median[base], 3),
            "cpu": round(cpu_median[side] / cpu_median[base], 3),
            "rounds": [round(p, 3) for p in paired],
        }
    firings = {n: outs[-1].firings for n, outs in results.items()}
    return {
        "events_per_second": {n: round(v) for n, v in median.items()},
        "events_per_cpu_second": {n: round(v) for n, v in cpu_median.items()},
        "rounds_events_per_second": {n: [round(v) for v in r] for n, r in rates.items()},
        "ratios": ratios,
        "ratio": ratios["engine/raw"]["median"],
        "firings": firings,
        "firings_agree": len(set(firings.values())) == 1,
        "commands": results["engine"][-1].detail,
        "raw_incidents": results["raw"][-1].detail,
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:  # not Linux
        model = platform.processor() or "unknown"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "durable_rules": version("durable_rules"),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --- main ---------------------------------------------------------------------------------------


def load(paths: Sequence[Path]) -> tuple[list[CompiledRunbook], dict[str, str]]:
    """The bundled runbooks that load clean and have a baseline; the rest with the reason."""
    library = load_library(list(paths))
    skipped = {str(d.file): d.message for d in library.diagnostics}
    compiled = []
    for item in library.compiled():
        why = translatable(item)
        if why is None:
            compiled.append(item)
        else:
            skipped[item.runbook.id] = f"no raw baseline: {why}"
    return compiled, skipped


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000, help="alerts per round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per side")
    parser.add_argument("--warmup", type=int, default=5_000, help="untimed alerts per side first")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--noise", type=float, default=0.9, help="share of alerts no runbook uses")
    parser.add_argument("--runbooks", type=Path, nargs="+", default=[ROOT / "runbooks"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", choices=SIDES, help="instead: cProfile one pass of a side")
    parser.add_argument("--profile-lines", type=int, default=30)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    compiled, skipped = load(args.runbooks)
    if not compiled:
        raise SystemExit(f"no runbook to benchmark under {args.runbooks}: {skipped}")
    work = generate(args.events, compiled, seed=args.seed, noise_share=args.noise)
    results = measure(compiled, work, args.rounds, min(args.warmup, args.events))
    summary = summarise(results, args.events)
    return {
        "machine": machine(),
        "events": args.events,
        "rounds": args.rounds,
        "seed": args.seed,
        "runbooks": {item.runbook.id: _origin(item) for item in compiled},
        "skipped": skipped,
        "workload": {
            "matching": work.matching,
            "noise": args.events - work.matching,
            "resolved": work.resolved,
            "alert_identities": work.identities,
            "virtual_span_s": round(work.span.total_seconds()),
            "noise_names": len(work.noise_names),
        },
        **summary,
        "goal": GOAL,
    }


def _origin(item: CompiledRunbook) -> str:
    return "hand-written" if item.runbook.id in HAND_WRITTEN else "translated"


def report(result: dict[str, Any]) -> str:
    eps = result["events_per_second"]
    mach = result["machine"]
    wl = result["workload"]
    lines = [
        f"machine   {mach['cpu']}, {mach['cores']} cores, Python {mach['python']}, "
        f"durable_rules {mach['durable_rules']}, {mach['date']}",
        f"runbooks  {', '.join(f'{k} ({v})' for k, v in result['runbooks'].items())}",
    ]
    if result["skipped"]:
        lines.append(f"skipped   {result['skipped']}")
    lines += [
        f"events    {result['events']:,} per round ({wl['matching']:,} matching, {wl['noise']:,} noise, "
        f"{wl['resolved']:,} resolved; {wl['alert_identities']:,} alerts over {wl['virtual_span_s']} s "
        f"virtual), {result['rounds']} rounds, median",
        "",
        f"{'side':<12}{'events/s':>10}{'per CPU-s':>11}   events/s by round",
    ]
    cpu = result["events_per_cpu_second"]
    for name in SIDES:
        rounds = " ".join(f"{v:,}" for v in result["rounds_events_per_second"][name])
        lines.append(f"{name:<12}{eps[name]:>10,}{cpu[name]:>11,}   {rounds}")
    lines.append("")
    for label, ratio in result["ratios"].items():
        verdict = "meets" if ratio["median"] >= result["goal"] else "BELOW"
        lines.append(
            f"ratio {label:<19}{ratio['median']:>6.3f}  {verdict} the {result['goal']} goal "
            f"(CPU-time ratio {ratio['cpu']:.3f}; by round "
            f"{' '.join(f'{r:.2f}' for r in ratio['rounds'])})"
        )
    lines += [
        "",
        f"trigger firings  {result['firings']}",
        f"engine commands  {result['commands']}",
        f"raw incidents    {result['raw_incidents']} (simpler bookkeeping, not compared)",
    ]
    if not result["firings_agree"]:
        lines.append(
            "WARNING  the sides disagree on how often a trigger fired. Expected while the "
            "compiler's correlate join is dropped by durable_rules, and for for/absent triggers, "
            "whose timers only runbookd keeps (bench/RESULTS.md)"
        )
    return "\n".join(lines)


def profile(args: argparse.Namespace) -> None:
    """One pass of one side under cProfile, top functions by cumulative time (for RESULTS.md)."""
    compiled, _ = load(args.runbooks)
    work = generate(args.events, compiled, seed=args.seed, noise_share=args.noise)
    runner, fresh_compiled = RUNNERS[args.profile], fresh(compiled)
    profiler = cProfile.Profile()
    outcome = profiler.runcall(runner, fresh_compiled, work, args.events)
    print(f"{args.profile}: {args.events:,} events in {outcome.seconds:.2f} s under cProfile")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile_lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        profile(args)
        return 0
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
