"""The pages benchmark runs end to end on a tiny database.

No measured time or CPU figure is asserted beyond being a finite, non-negative number: at these
sizes a CPU time per request rounds to 0 on a fast run, and the machine is shared.
"""

from __future__ import annotations

import json
import math

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
        # Quantiles of one sample are ordered whatever the machine did; their size is not asserted.
        for side in (ours, base):
            assert math.isfinite(side["p50_ms"]) and 0 <= side["p50_ms"] <= side["p99_ms"]
        # The baseline serves a body of the size runbookd's first answer had.
        assert base["bytes"] > 1000
        for key in ("cpu_ms_per_request", "baseline_cpu_ms_per_request"):
            assert math.isfinite(page[key]) and page[key] >= 0, key
