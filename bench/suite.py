"""The figures every benchmark reports, the machine they ran on, and where they are recorded.

A figure is one measured value, the baseline measured in the same run (when there is one), and
its goal. The suite prints them, writes them as JSON to bench/results/<UTC date-time>.json and
appends one dated row per figure to bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
RESULTS_MD = REPO / "bench" / "RESULTS.md"
RESULTS_DIR = REPO / "bench" / "results"
TABLE_HEADING = "## Suite runs (`make bench`)"


@dataclass(frozen=True)
class Figure:
    """One measured figure against its goal.

    ``goal_op`` says which side of ``goal`` passes: ``>=`` for ratios and rates, ``<=`` for times
    and growth. ``baseline`` is the comparison measured in the same run, or None when the goal
    is an absolute bound (a time, a growth).
    """

    bench: str
    name: str
    value: float
    unit: str
    goal: float
    goal_op: Literal[">=", "<="]
    baseline: float | None = None
    baseline_name: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool:
        return self.value >= self.goal if self.goal_op == ">=" else self.value <= self.goal

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM and the load average: the figures mean little without them."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": model,
        "ram_gib": round(ram_gib, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _num(value: float, unit: str) -> str:
    if unit in ("x", "ratio"):
        return f"{value:.2f}"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def line(fig: Figure) -> str:
    """A figure as one console line: value, ratio to its baseline, goal, met."""
    against = ""
    if fig.ratio is not None:
        against = f" = {fig.ratio:.2f} x {fig.baseline_name} ({_num(fig.baseline or 0, fig.unit)})"
    verdict = "met" if fig.met else "MISSED"
    return (
        f"{fig.bench:>8} {fig.name:<44} {_num(fig.value, fig.unit)}{against}"
        f"   goal {fig.goal_op} {_num(fig.goal, fig.unit)}: {verdict}"
    )


def write_json(
    figures: list[Figure],
    info: dict[str, Any],
    command: str,
    when: datetime,
    folder: Path = RESULTS_DIR,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{when:%Y-%m-%dT%H%M%SZ}.json"
    data = {
        "when": when.isoformat(),
        "command": command,
        "machine": info,
        "figures": [f.as_json() for f in figures],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def append_rows(
    figures: list[Figure], info: dict[str, Any], command: str, when: datetime, md: Path = RESULTS_MD
) -> None:
    """Append one row per figure under the suite's table, creating the table the first time."""
    text = md.read_text() if md.exists() else ""
    if TABLE_HEADING not in text:
        text = text.rstrip("\n") + (
            f"\n\n{TABLE_HEADING}\n\n"
            "Appended by `python -m bench` (see the section above for what each figure means). "
            "Machine: nproc / CPU / RAM; load = 1-minute load average when the suite started.\n\n"
            "| date (UTC) | benchmark | figure | measured | baseline (same run) | ratio | goal | met "
            "| machine | load | command |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
    host = f"{info['nproc']} CPU / {info['cpu']} / {info['ram_gib']} GiB"
    load = f"{info['load_average'][0]:.2f}"
    rows = []
    for f in figures:
        base = f"{f.baseline_name} {_num(f.baseline, f.unit)}" if f.baseline is not None else "-"
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        rows.append(
            f"| {when:%Y-%m-%d %H:%M} | {f.bench} | {f.name} | {_num(f.value, f.unit)} | {base} "
            f"| {ratio} | {f.goal_op} {_num(f.goal, f.unit)} | {'yes' if f.met else '**no**'} "
            f"| {host} | {load} | `{command}` |"
        )
    # Rows go at the end of the suite's table, wherever the table is in the file, so sections
    # written later by hand below it stay intact.
    lines = text.rstrip("\n").split("\n")
    at = lines.index(TABLE_HEADING)
    while not lines[at].startswith("|---"):
        at += 1
    at += 1
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    lines[at:at] = rows
    md.write_text("\n".join(lines) + "\n")
