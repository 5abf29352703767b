"""Maintenance windows from config.yaml through the real app (uvicorn on loopback, SQLite or
PostgreSQL): ``check-config`` names a bad window's key path, an alert a window matches is
recorded as ``silenced`` by it and opens no incident, and a reload that adds or drops a window
takes effect without a restart."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from runbookd.cli.main import main
from runbookd.config.settings import load_settings
from runbookd.engine.windows import windows_from_config
from runbookd.server.app import create_app
from tests.e2e.harness import REPO, poll
from tests.unit.engine.test_silences import RUNBOOK
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.live_app import live
from tests.unit.runbookd.test_silences_api import TOKEN, _outcome, _send

# Open at every instant from 2000 to 9999: the test does not depend on the day it runs.
ALWAYS = """\
maintenance_windows:
  - name: db-upgrade
    matchers: ['instance=~"db.*"']
    comment: postgres 17 upgrade
    time_intervals:
      - years: ["2000:9999"]
        location: Europe/Paris
"""


@dataclass
class Setup:
    config: Path
    head: str

    def write(self, windows: str = "") -> None:
        self.config.write_text(self.head + windows)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    (tmp_path / "host.yaml").write_text(RUNBOOK)
    with database_url(tmp_path) as url:
        head = (
            f"database_url: {url}\ndata_dir: {tmp_path / 'data'}\n"
            f"runbooks: [{tmp_path / 'host.yaml'}]\nengine: {{dry_run: true}}\n"
            f"auth: {{bearer_token: {TOKEN}}}\n"
        )
        s = Setup(tmp_path / "config.yaml", head)
        s.write(ALWAYS)
        yield s


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOKD_")}


@pytest.fixture
def api(setup: Setup) -> Iterator[httpx.Client]:
    settings = load_settings(setup.config, _environ())
    app = create_app(settings, lambda: load_settings(setup.config, _environ()), config=setup.config)
    with (
        live(app) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as http,
    ):
        yield http


def test_the_example_window_of_the_docs_is_open_on_sunday_night_in_paris() -> None:
    doc = (REPO / "docs" / "silences.md").read_text()
    block = doc.partition("## Maintenance windows")[2].partition("```yaml\n")[2].partition("```")[0]
    [window] = windows_from_config(yaml.safe_load(block))
    [interval] = window.intervals
    assert window.name == "sunday-db" and [str(m) for m in window.matchers] == ['service="db"']
    # Sunday 6 December 2026, 02:30 in Paris is 01:30 UTC; 04:00 there is 03:00 UTC
    assert interval.contains(datetime(2026, 12, 6, 1, 30, tzinfo=UTC))
    assert not interval.contains(datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    assert not interval.contains(datetime(2026, 12, 7, 1, 30, tzinfo=UTC))  # Monday


def test_check_config_accepts_a_window(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(setup.config)]) == 0
    assert ": ok (" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("window", "line"),
    [
        (
            "    time_intervals:\n      - times: [{start_time: '25:00', end_time: '26:00'}]\n",
            "maintenance_windows[0].time_intervals[0].times[0].start_time: 25:00 is not between"
            " 00:00 and 24:00",
        ),
        (
            "    time_intervals:\n      - times: [{start_time: '22:00', end_time: 24:00}]\n",
            "maintenance_windows[0].time_intervals[0].times[0].end_time: 1440 is not a time of"
            " day as HH:MM (quote it in YAML)",
        ),
        (
            "    time_intervals:\n      - location: Europe/Atlantis\n",
            "maintenance_windows[0].time_intervals[0].location: unknown time zone"
            " 'Europe/Atlantis'",
        ),
        (
            "    time_intervals:\n      - days_of_month: ['0']\n",
            "maintenance_windows[0].time_intervals[0].days_of_month[0]: 0: days of the month are"
            " 1 to 31",
        ),
    ],
)
def test_check_config_names_a_bad_windows_key_path(
    setup: Setup, capsys: pytest.CaptureFixture[str], window: str, line: str
) -> None:
    setup.write("maintenance_windows:\n  - name: w\n    matchers: ['job=\"db\"']\n" + window)
    assert main(["check-config", str(setup.config)]) == 1
    err = capsys.readouterr().err
    assert f"{setup.config}: {line}" in err, err


def test_a_window_mutes_what_it_matches_and_a_reload_drops_and_restores_it(
    setup: Setup, api: httpx.Client
) -> None:
    _send(api, "db-1")
    muted = poll(_outcome(api, "db-1"), what="db-1's outcome")
    assert muted["outcome"] == "silenced"
    assert muted["summary"] == "silenced by maintenance window db-upgrade"
    _send(api, "web-1")
    assert poll(_outcome(api, "web-1"), what="web-1's outcome")["outcome"] == "opened"

    setup.write()  # the window is gone from the file
    answer = api.post("/-/reload")
    assert answer.status_code == 200, answer.text
    assert answer.json()["restart_required"] == []
    _send(api, "db-2")
    assert poll(_outcome(api, "db-2"), what="db-2's outcome")["outcome"] == "opened"

    # a bad window is refused and the running configuration (no window) stays
    setup.write(ALWAYS.replace("Europe/Paris", "Europe/Atlantis"))
    refused = api.post("/-/reload")
    assert refused.status_code == 422
    assert any("unknown time zone 'Europe/Atlantis'" in e for e in refused.json()["errors"])
    _send(api, "db-3")
    assert poll(_outcome(api, "db-3"), what="db-3's outcome")["outcome"] == "opened"

    setup.write(ALWAYS)
    assert api.post("/-/reload").status_code == 200
    _send(api, "db-4")
    assert poll(_outcome(api, "db-4"), what="db-4's outcome")["outcome"] == "silenced"
    incidents = api.get("/api/v1/incidents").json()["incidents"]
    assert sorted(i["labels"]["instance"] for i in incidents) == ["db-2", "db-3", "web-1"]
