"""The connector HTTP pool benchmark runs end to end at a tiny size.

Only that it produced every row is asserted: no measured time or CPU figure is compared with
anything (at these sizes they are noise on a shared machine, and a CPU time can round to 0).
"""

from __future__ import annotations

import json

import pytest

from bench import http_pool_bench


def test_tiny_run_reports_every_rate_for_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    assert http_pool_bench.main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row["rate"] for row in result["rows"]] == ["10/s", "100/s", "1000/s", "flat out"]
    for row in result["rows"]:
        for side in http_pool_bench.SIDES:
            assert set(row[side]) >= {"cpu_ms_per_call", "p50_ms", "p99_ms"}, row
            assert len(row[side]["rounds_cpu_ms_per_call"]) == result["rounds"] == 1
        assert "cpu_ours_per_stock" in row
    assert result["machine"]["nproc"] >= 1


def test_the_suite_gets_a_figure_per_rate() -> None:
    figures = http_pool_bench.figures(smoke=True)
    assert [f.name for f in figures] == [
        f"CPU/call at {rate}, stock httpx vs our pool"
        for rate in ("10/s", "100/s", "1000/s", "flat out")
    ]
    assert all(f.baseline is not None for f in figures)
