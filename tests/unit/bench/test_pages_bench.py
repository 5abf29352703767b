"""The pages benchmark runs end to end on a tiny database (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from bench import pages_bench


def test_tiny_run_measures_every_page(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--incidents", "30", "--requests", "4", "--warmup", "1", "--json"]
    assert pages_bench.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["incidents"] == 30
    assert result["timeline_rows"] > 30
    assert set(result["pages"]) == set(pages_bench.PAGES)
    for page in result["pages"].values():
        ours, base = page["runbookd"], page["baseline"]
        assert 0 < ours["p50_ms"] <= ours["p99_ms"]
        assert 0 < base["p50_ms"] <= base["p99_ms"]
        # The baseline serves a body of the size runbookd's first answer had.
        assert base["bytes"] > 1000
        assert page["cpu_ms_per_request"] > 0
