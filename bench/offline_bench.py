"""Offline: `runbookd test` on every scenario of the bundled library (tests/scenarios/).

The scenarios run hours of virtual time each against the whole runbook library with faked
connectors. The figure is the wall time of the command, in a fresh process as a user runs it;
the baseline is `runbookd check` on the same library in the same run (loading and compiling
alone), which shows what the scenarios themselves cost. Goal: <= 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.suite import Figure  # noqa: E402

GOAL_S = 10.0
SCENARIOS = REPO / "tests" / "scenarios"


def timed(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-2000:]}"
            f"{done.stderr[-2000:]}"
        )
    return seconds, done.stdout


def measure(scenarios: list[Path], rounds: int) -> dict[str, object]:
    cli = [sys.executable, "-m", "runbookd.cli.main"]
    test_s, check_s = [], []
    out = ""
    for _ in range(rounds):
        seconds, out = timed([*cli, "test", *map(str, scenarios)])
        test_s.append(seconds)
        check_s.append(timed([*cli, "check", str(REPO / "runbooks")])[0])
    return {
        "scenarios": len(scenarios),
        "test_s": statistics.median(test_s),
        "check_s": statistics.median(check_s),
        "rounds_s": [round(s, 2) for s in test_s],
        "summary": out.strip().splitlines()[-1] if out.strip() else "",
    }


def figures(smoke: bool) -> list[Figure]:
    scenarios = sorted(SCENARIOS.glob("*.yaml"))
    if smoke:
        scenarios = scenarios[:3]
    r = measure(scenarios, 1 if smoke else 3)
    return [
        Figure(
            "offline",
            f"runbookd test, {r['scenarios']} scenarios",
            float(r["test_s"]),  # type: ignore[arg-type]
            "s",
            GOAL_S,
            "<=",
            baseline=float(r["check_s"]),  # type: ignore[arg-type]
            baseline_name="runbookd check",
            note=f"rounds {r['rounds_s']}; {r['summary']}",
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(measure(sorted(SCENARIOS.glob("*.yaml")), args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
