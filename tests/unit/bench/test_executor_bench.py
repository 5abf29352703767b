"""The executor benchmark runs end to end on a few calls.

No measured time, CPU or memory figure is asserted on: the quick run is given a memory bound no
run can miss, so its verdict rests on what the calls did (each finished once, the pool's limits
held), and the bound's own logic is tested with a bound no run can meet.
"""

from __future__ import annotations

import json
import math

import pytest

from bench import executor_bench


def test_quick_run_completes_every_call_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert executor_bench.main(["--quick", "--json", "--max-rss-growth-mib", "1e9"]) == 0
    result = json.loads(capsys.readouterr().out)
    [row] = result["results"]
    assert result["ok"], row["problems"]
    assert row["calls"] == result["calls"] == 60
    # 60 calls on 8 workers are 8 waves of 20 ms
    assert row["ideal_seconds"] == pytest.approx(0.16)
    # the figures and the baseline measured in the same run are reported (their size is not
    # asserted: the machine is shared)
    for figure in (row["seconds"], row["ratio"], row["httpx_alone"]["seconds"], row["vs_httpx"]):
        assert math.isfinite(figure) and figure >= 0
    # the endpoint never held more requests than the pool has workers
    assert 1 <= row["endpoint_max_inflight"] <= row["workers"]
    assert row["executor_max_claimed"] <= 4 * row["workers"]
    # peak RSS (ru_maxrss) never falls, so its growth is never negative
    assert row["rss_growth_mib"] >= 0
    assert row["traced"]["problems"] == []
    assert row["swallowed_cancels"] == 0  # one cancel stops the executor
    assert row["traced"]["peak_bytes"] >= 0
    assert result["machine"]["cores"]


def test_ideal_time_counts_waves_of_the_pool() -> None:
    # 1,000 calls on 64 workers need 16 waves (the last one partly empty), not 15.625
    assert executor_bench.ideal_seconds(1000, 64, 0.1) == pytest.approx(1.6)
    assert executor_bench.ideal_seconds(1000, 16, 0.1) == pytest.approx(6.3)
    assert executor_bench.ideal_seconds(64, 64, 0.1) == pytest.approx(0.1)


def test_memory_growth_past_the_bound_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    # a bound no process can meet (its peak RSS always grows a little) must fail the run
    assert executor_bench.main(["--quick", "--json", "--max-rss-growth-mib", "-1"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert not result["ok"]
    assert any("peak RSS grew" in p for p in result["results"][0]["problems"])
