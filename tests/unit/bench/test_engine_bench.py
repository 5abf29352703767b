"""The engine benchmark runs end to end on a tiny stream (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from bench import engine_bench


def test_tiny_run_reports_every_side(capsys: pytest.CaptureFixture[str]) -> None:
    assert engine_bench.main(["--events", "400", "--rounds", "1", "--warmup", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events"] == 400
    assert set(result["events_per_second"]) == set(engine_bench.SIDES)
    assert result["workload"]["matching"] + result["workload"]["noise"] == 400
    assert "payment-channel-abnormal" in result["runbooks"]
    # the two raw variants post differently but must decide the same
    assert result["firings"]["raw"] == result["firings"]["raw-routed"]
    assert result["firings"]["engine"] == result["firings"]["matcher"]
    assert result["machine"]["durable_rules"]
