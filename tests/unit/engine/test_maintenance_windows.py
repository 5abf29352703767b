"""Maintenance windows from config on the engine's virtual clock: an alert inside one opens no
incident (outcome ``silenced`` naming the window), an open incident's escalation waits for the
window's end, the post-mortem says so, and a bad window is refused naming its key path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from runbookd.engine.windows import WindowError, windows_from_config
from runbookd.postmortem.muted import paging_suppressed
from tests.unit.engine.test_silences import START, alert, pages, sim

# START is Wednesday 2 December 2026, 01:00 UTC.
NIGHTLY: dict[str, Any] = {
    "name": "nightly-db",
    "matchers": ['instance=~"db.*"'],
    "comment": "db patching",
    "time_intervals": [{"times": [{"start_time": "01:10", "end_time": "02:00"}]}],
}


def windows(*items: dict[str, Any]) -> dict[str, Any]:
    return {"maintenance_windows": list(items)}


def test_an_alert_inside_a_window_is_silenced_by_it_and_one_after_it_opens() -> None:
    s = sim()
    s.engine.set_windows(windows_from_config(windows(NIGHTLY)))
    for minutes, instance in ((5, "db-1"), (10, "db-2"), (11, "web-1"), (60, "db-3")):
        # 01:05 is before the window, 01:10 its start (inside), web-1 is not matched, and
        # 02:00 is its end (outside)
        s.at(timedelta(minutes=minutes))
        s.ingest([alert(instance, s.now)])
    outcomes = [(o.data["outcome"], o.data.get("silenced_by")) for o in s.outcomes]
    assert outcomes == [
        ("opened", None),
        (
            "silenced",
            {
                "window": "nightly-db",
                "until": "2026-12-02T02:00:00+00:00",
                "comment": "db patching",
            },
        ),
        ("opened", None),
        ("opened", None),
    ]
    assert sorted(i.labels["instance"] for i in s.incidents()) == ["db-1", "db-3", "web-1"]


def test_an_incident_inside_a_window_is_paged_at_its_end_and_the_postmortem_says_so() -> None:
    s = sim()
    s.engine.set_windows(windows_from_config(windows(NIGHTLY)))
    s.ingest([alert("db-1", START)])  # paged at 01:00; its deadline, 01:15, is in the window
    s.run_until(START + timedelta(minutes=59))
    assert pages(s) == [(START, "oncall")]
    s.run_until(START + timedelta(minutes=61))
    assert pages(s) == [(START, "oncall"), (START + timedelta(hours=1), "lead")]
    [incident] = s.incidents()
    notes = [c.data for c in incident.timeline if c.kind == "note" and c.data.get("paging")]
    assert [n["paging"] for n in notes] == ["paused", "resumed"]
    assert "maintenance window nightly-db (db patching)" in notes[0]["text"]
    assert paging_suppressed(incident.timeline, s.now) == [
        "Paging suppressed 01:15-02:00 UTC by maintenance window nightly-db (db patching)."
    ]


def test_a_window_limited_to_runbooks_mutes_only_theirs() -> None:
    s = sim()
    other = {**NIGHTLY, "runbooks": ["payments-down"]}
    s.engine.set_windows(windows_from_config(windows(other)))
    s.at(timedelta(minutes=20))
    s.ingest([alert("db-1", s.now)])
    assert [o.data["outcome"] for o in s.outcomes] == ["opened"]
    mine = {**NIGHTLY, "runbooks": ["host-down"]}
    del mine["matchers"]  # runbooks alone limit it
    s.engine.set_windows(windows_from_config(windows(mine)))
    s.ingest([alert("web-1", s.now)])
    assert s.outcomes[-1].data["outcome"] == "silenced"


def test_a_window_applied_later_pauses_an_open_incident_and_taking_it_away_resumes() -> None:
    s = sim()
    s.ingest([alert("db-1", START)])
    s.run_until(START + timedelta(minutes=20))  # 01:15: lead paged, next deadline 01:30
    assert [level for _, level in pages(s)] == ["oncall", "lead"]
    s.engine.set_windows(windows_from_config(windows(NIGHTLY)))
    s.run_until(START + timedelta(minutes=40))
    assert [level for _, level in pages(s)] == ["oncall", "lead"]
    s.engine.set_windows([])  # a reload without the window: paging resumes at once
    s.run_until(START + timedelta(minutes=40))
    assert pages(s)[-1] == (START + timedelta(minutes=40), "oncall")


@pytest.mark.parametrize(
    ("item", "path", "words"),
    [
        (
            {"time_intervals": [{"times": [{"start_time": "9am", "end_time": "10:00"}]}]},
            "maintenance_windows[0].time_intervals[0].times[0].start_time",
            "HH:MM",
        ),
        (
            {"time_intervals": [{"location": "Europe/Atlantis"}]},
            "maintenance_windows[0].time_intervals[0].location",
            "unknown time zone 'Europe/Atlantis'",
        ),
        ({"time_intervals": []}, "maintenance_windows[0].time_intervals", "non-empty list"),
        ({"matchers": ['instance=~".*"']}, "maintenance_windows[0].matchers", "mute all alerts"),
        ({"matchers": []}, "maintenance_windows[0].matchers", "or runbooks"),
        ({"matchers": ["instance=~("]}, "maintenance_windows[0].matchers[0]", ""),
        ({"name": ""}, "maintenance_windows[0].name", "non-empty"),
        ({"every": "sunday"}, "maintenance_windows[0].every", "unknown key"),
        ({"runbooks": "host-down"}, "maintenance_windows[0].runbooks", "list of runbook ids"),
    ],
)
def test_a_bad_window_names_its_key_path(item: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(WindowError) as caught:
        windows_from_config(windows({**NIGHTLY, **item}))
    assert caught.value.path == path
    assert words in caught.value.message


def test_two_windows_with_one_name_are_refused() -> None:
    with pytest.raises(WindowError, match=r"maintenance_windows\[1\].name: 'nightly-db' is used"):
        windows_from_config(windows(NIGHTLY, NIGHTLY))
