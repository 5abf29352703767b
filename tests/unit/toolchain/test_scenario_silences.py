"""Scenario files with silences and maintenance windows: a ``silence`` timeline entry made at
an offset holds a page until it ends, ``maintenance_windows`` mute on the scenario's clock, and
a bad silence or window is an error naming its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbookd.cli.main import main
from runbookd.toolchain.scenario import run_scenario
from tests.unit.engine.test_silences import RUNBOOK

HEAD = """\
scenario: {title}
runbooks: [host.yaml]
start: 2026-12-02T01:00:00Z
"""


def write(tmp_path: Path, body: str, title: str = "silences") -> Path:
    (tmp_path / "host.yaml").write_text(RUNBOOK)
    path = tmp_path / "scenario.yaml"
    path.write_text(HEAD.format(title=title) + body)
    return path


def outcomes(path: Path) -> dict[str, bool]:
    result = run_scenario(path)
    assert not result.errors, result.errors
    return {c.name: c.passed for c in result.checks}


def test_a_silence_made_during_an_incident_holds_the_escalation_until_it_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """\
timeline:
  - at: 0s
    alert: {labels: {alertname: HostDown, instance: db-1}}
  - at: 5m
    silence: {matchers: ['instance="db-1"'], for: 1h, comment: kernel upgrade, by: ana}
expect:
  - notified: {level: oncall, at: 0s}
  - notified: {level: lead, at: 65m}
""",
    )
    assert all(outcomes(path).values())
    assert main(["test", str(path)]) == 0
    capsys.readouterr()


def test_a_silence_for_another_instance_does_not_hold_the_page(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
timeline:
  - at: 0s
    alert: {labels: {alertname: HostDown, instance: db-1}}
  - at: 5m
    silence: {matchers: ['instance="db-2"'], until: 2h}
expect:
  - notified: {level: lead, at: 15m}
  - notified: {level: lead, at: 65m}
""",
    )
    assert list(outcomes(path).values()) == [True, False]


def test_an_alert_under_a_silence_or_in_a_window_opens_no_incident(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
maintenance_windows:
  - name: nightly-web
    matchers: ['instance=~"web.*"']
    time_intervals: [{times: [{start_time: "01:30", end_time: "02:00"}]}]
timeline:
  - at: 0s
    silence: {matchers: ['instance=~"db.*"'], for: 30m}
  - at: 10m
    alert: {labels: {alertname: HostDown, instance: db-1}}
  - at: 40m
    alert: {labels: {alertname: HostDown, instance: web-1}}
  - at: 70m
    alert: {labels: {alertname: HostDown, instance: web-2}}
expect:
  - no_incident: {runbook: host-down, before: 69m}
  - incident: {runbook: host-down, at: 71m, labels: {instance: web-2}}
  - notified: {level: oncall, at: 70m}
""",
    )
    # db-1 under the silence and web-1 inside the window open nothing; web-2 at 02:10 does
    assert all(outcomes(path).values())


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            "timeline:\n  - at: 0s\n    silence: {matchers: ['instance=~\".*\"']}\n",
            "every matcher matches the empty string",
        ),
        (
            "maintenance_windows:\n  - name: w\n    matchers: ['job=\"x\"']\n"
            "    time_intervals: [{location: Mars/Olympus}]\n"
            "timeline:\n  - at: 0s\n    alert: {labels: {alertname: HostDown}}\n",
            "maintenance_windows[0].time_intervals[0].location: unknown time zone",
        ),
        (
            "timeline:\n  - at: 10m\n    silence: {matchers: ['a=\"b\"'], until: 5m}\n",
            "timeline at 10m: silence: until 2026-12-02T01:05:00+00:00 is not after",
        ),
    ],
)
def test_a_bad_silence_or_window_is_an_error_naming_it(
    tmp_path: Path, body: str, words: str
) -> None:
    path = write(tmp_path, body + "expect:\n  - no_notify: {level: oncall}\n")
    result = run_scenario(path)
    assert any(words in e for e in result.errors), result.errors
