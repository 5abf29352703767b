"""runbookd's one duration parser reads what Prometheus reads, and refuses what it refuses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from runbookd.config.settings import SettingsError, load_settings
from runbookd.connectors.durations import parse_duration
from runbookd.engine.lang import durations as lang_durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("2w", timedelta(days=14)),
        ("1y", timedelta(days=365)),
        (
            "1y2w3d4h5m6s7ms",
            timedelta(days=365 + 14 + 3, hours=4, minutes=5, seconds=6, milliseconds=7),
        ),
    ],
)
def test_prometheus_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["1.5h", "-1m", "30", "1m1h", "", "1h1h", "5 m", "1H", "1s500ms1m", "1d12", "h"]
)
def test_what_prometheus_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_the_runbook_language_uses_the_same_parser() -> None:
    assert lang_durations.parse_duration is parse_duration


def test_a_bad_duration_in_config_names_its_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("executor: {default_timeout: 1m1h}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, {})
    assert [p.split(";")[0] for p in caught.value.problems] == [
        f"{path}: executor.default_timeout: '1m1h' is not a duration"
    ]
