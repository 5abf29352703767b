"""The executor benchmark runs end to end on a few calls (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from bench import executor_bench


def test_quick_run_completes_every_call_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert executor_bench.main(["--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    [row] = result["results"]
    assert result["ok"], row["problems"]
    assert row["calls"] == result["calls"] == 60
    # the endpoint never held more requests than the pool has workers
    assert 1 <= row["endpoint_max_inflight"] <= row["workers"]
    assert row["executor_max_claimed"] <= 4 * row["workers"]
    assert row["traced"]["problems"] == []
    assert row["traced"]["peak_bytes"] > 0
    assert result["machine"]["cores"]
