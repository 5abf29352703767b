"""The benchmark suite: its smoke run (every benchmark, small sizes, real servers) and its records.

No timing is asserted: the machine is shared. What is asserted is that every benchmark ran
against the full library, produced its figure and baseline, and that the results were written.
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import runner
from bench.suite import TABLE_HEADING, Figure, append_rows

MACHINE = {"nproc": 2, "cpu": "Test CPU", "ram_gib": 4.0, "load_average": [1.5, 1.0, 0.5]}
BENCHES = {"offline", "engine", "ingest", "latency", "burst", "restart", "memory", "httppool"}
WITH_BASELINE = {"offline", "engine", "ingest", "burst", "restart", "httppool"}


def test_rows_go_under_the_suite_table_and_leave_later_sections_alone(tmp_path: Path) -> None:
    md = tmp_path / "RESULTS.md"
    md.write_text("# Results\n\nIntro.\n")
    when = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    fast = Figure("burst", "digest", 0.4, "s", 0.5, "<=", baseline=0.1, baseline_name="bare")
    slow = Figure("restart", "ready", 6.0, "s", 5.0, "<=")
    append_rows([fast], MACHINE, "python -m bench", when, md)
    md.write_text(md.read_text() + "\n## Notes written later\n\nKeep me.\n")
    append_rows([slow], MACHINE, "python -m bench --only restart", when, md)

    text = md.read_text()
    assert text.count(TABLE_HEADING) == 1
    table = text.split(TABLE_HEADING)[1].split("## Notes written later")[0]
    rows = [r for r in table.splitlines() if r.startswith("| 2026-12-02")]
    assert len(rows) == 2
    assert "| burst | digest | 0.4 s | bare 0.1 s | 4.00 | <= 0.5 s | yes |" in rows[0]
    assert "| restart | ready | 6 s | - | - | <= 5 s | **no** |" in rows[1]
    assert "2 CPU / Test CPU / 4.0 GiB | 1.50 |" in rows[1]
    assert text.rstrip().endswith("Keep me.")


def test_goal_direction_decides_met() -> None:
    assert Figure("x", "ratio", 0.9, "x", 0.8, ">=").met
    assert not Figure("x", "ratio", 0.7, "x", 0.8, ">=").met
    assert Figure("x", "time", 4.9, "s", 5.0, "<=").met
    assert not Figure("x", "time", 5.1, "s", 5.0, "<=").met


@pytest.mark.skipif(shutil.which("wrk") is None, reason="the ingest benchmark needs wrk")
def test_smoke_run_measures_every_benchmark_and_records_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = tmp_path / "RESULTS.md"
    argv = ["--smoke", "--record", "--results-dir", str(tmp_path), "--results-md", str(md)]
    assert runner.main(argv) == 0

    [result_file] = tmp_path.glob("*.json")
    result = json.loads(result_file.read_text())
    assert result["machine"]["nproc"] >= 1
    assert len(result["machine"]["load_average"]) == 3
    figures = result["figures"]
    assert {f["bench"] for f in figures} == BENCHES
    for fig in figures:
        assert math.isfinite(fig["value"]), fig
        assert fig["met"] in (True, False)
        if fig["bench"] in WITH_BASELINE:
            # The baseline was measured in the same run; a ratio is printed whenever it can be
            # (a baseline that rounds to 0 at smoke sizes has none, which is not a failure).
            assert math.isfinite(fig["baseline"]) and fig["baseline"] >= 0, fig
            if fig["baseline"]:
                assert fig["ratio"] == pytest.approx(fig["value"] / fig["baseline"])
            else:
                assert fig["ratio"] is None, fig
    # Durations are reported, not judged here (the machine is shared); the offline run passed
    # its scenarios and the memory run resolved every incident, which are counts, not times.
    by_bench = {f["bench"]: f for f in figures}
    for name in ("latency", "burst", "restart"):
        assert by_bench[name]["value"] >= 0, by_bench[name]
    assert "0 failed" in by_bench["offline"]["note"]
    assert "0 not resolved" in by_bench["memory"]["note"]

    rows = [r for r in md.read_text().splitlines() if r.startswith("| 20")]
    assert len(rows) == len(figures)
    out = capsys.readouterr().out
    assert f"{len(figures)} figures" in out
