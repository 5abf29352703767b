"""Alertmanager ``time_intervals`` specs against hand-computed instants: each field, negative
days of the month, a named location, ``24:00``, and both daylight-saving changes of a zone that
has them (Europe/Paris, 2026: forward on 29 March, back on 25 October, both at 01:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from runbookd.engine.timeintervals import Interval, IntervalError, parse_specs


def interval(*specs: dict[str, Any]) -> Interval:
    return Interval("w", parse_specs(list(specs)))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


BUSINESS = {"weekdays": ["monday:friday"], "times": [{"start_time": "09:00", "end_time": "17:00"}]}


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2026-12-07T09:00", True),  # Monday, the start is inside
        ("2026-12-07T08:59", False),
        ("2026-12-07T16:59", True),
        ("2026-12-07T17:00", False),  # the end is outside
        ("2026-12-11T12:00", True),  # Friday, the range's last day
        ("2026-12-12T12:00", False),  # Saturday
    ],
)
def test_weekdays_and_times(moment: str, inside: bool) -> None:
    assert interval(BUSINESS).contains(at(moment)) is inside


@pytest.mark.parametrize(
    ("days", "moment", "inside"),
    [
        (["-1"], "2026-02-28T12:00", True),  # 2026 is not a leap year
        (["-1"], "2026-02-27T12:00", False),
        (["-1"], "2028-02-29T12:00", True),
        (["-1"], "2028-02-28T12:00", False),
        (["-3:-1"], "2026-12-29T00:00", True),
        (["-3:-1"], "2026-12-28T23:59", False),
        (["1:31"], "2026-02-28T12:00", True),  # clamps to the month's last day
        ([1, "15"], "2026-12-15T03:00", True),
        ([1, "15"], "2026-12-14T03:00", False),
    ],
)
def test_days_of_month_count_back_from_the_end_with_negatives(
    days: list[Any], moment: str, inside: bool
) -> None:
    assert interval({"days_of_month": days}).contains(at(moment)) is inside


def test_months_by_name_or_number_and_years() -> None:
    spec = interval({"months": ["december", "1:2"], "years": ["2026:2027"]})
    assert spec.contains(at("2026-12-01T00:00"))
    assert spec.contains(at("2027-02-28T23:59"))
    assert not spec.contains(at("2027-03-01T00:00"))
    assert not spec.contains(at("2028-01-10T00:00"))


def test_an_instant_is_inside_when_any_spec_holds() -> None:
    both = interval(
        {"weekdays": ["saturday"]}, {"times": [{"start_time": "22:00", "end_time": "24:00"}]}
    )
    assert both.contains(at("2026-12-12T08:00"))  # Saturday
    assert both.contains(at("2026-12-08T23:59"))  # Tuesday, late
    assert not both.contains(at("2026-12-08T21:59"))


def test_the_wall_clock_is_the_locations() -> None:
    paris = interval(
        {"times": [{"start_time": "02:00", "end_time": "03:00"}], "location": "Europe/Paris"}
    )
    assert paris.contains(at("2026-12-07T01:30"))  # 02:30 CET (+01:00)
    assert not paris.contains(at("2026-12-07T02:00"))
    assert paris.contains(at("2026-07-06T00:30"))  # 02:30 CEST (+02:00)
    assert not paris.contains(at("2026-07-06T01:30"))


def test_run_end_is_the_end_of_the_run_touching_ranges_included() -> None:
    day = interval(
        {
            "times": [
                {"start_time": "09:00", "end_time": "12:00"},
                {"start_time": "12:00", "end_time": "17:00"},
            ]
        }
    )
    assert day.run_end(at("2026-12-07T10:00")) == at("2026-12-07T17:00")
    late = interval({"times": [{"start_time": "22:00", "end_time": "24:00"}]})
    assert late.run_end(at("2026-12-07T23:30")) == at("2026-12-08T00:00")
    whole_days = interval({"weekdays": ["saturday:sunday"]})
    # the next local midnight: callers look again there and find Sunday inside too
    assert whole_days.run_end(at("2026-12-12T10:00")) == at("2026-12-13T00:00")


SUNDAY_PARIS = {
    "weekdays": ["sunday"],
    "times": [{"start_time": "02:00", "end_time": "04:00"}],
    "location": "Europe/Paris",
}


def test_a_window_in_the_hour_clocks_skip_starts_when_the_clocks_jump() -> None:
    # 29 March 2026: 02:00 CET becomes 03:00 CEST at 01:00 UTC; 02:00-03:00 never happens.
    sunday = interval(SUNDAY_PARIS)
    assert not sunday.contains(at("2026-03-29T00:59"))  # 01:59 CET
    assert sunday.contains(at("2026-03-29T01:00"))  # 03:00 CEST
    assert sunday.run_end(at("2026-03-29T01:00")) == at("2026-03-29T02:00")  # 04:00 CEST
    assert not sunday.contains(at("2026-03-29T02:00"))


def test_an_end_the_clocks_skip_ends_at_the_jump_not_later() -> None:
    skipped = interval(
        {"times": [{"start_time": "01:00", "end_time": "02:30"}], "location": "Europe/Paris"}
    )
    assert skipped.contains(at("2026-03-29T00:30"))  # 01:30 CET
    assert skipped.run_end(at("2026-03-29T00:30")) == at("2026-03-29T01:00")  # 03:00 CEST


def test_a_time_the_clocks_repeat_is_inside_twice() -> None:
    # 25 October 2026: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:00-03:00 happens twice.
    twice = interval(
        {"times": [{"start_time": "02:00", "end_time": "02:30"}], "location": "Europe/Paris"}
    )
    assert twice.contains(at("2026-10-25T00:00"))  # 02:00 CEST
    assert twice.run_end(at("2026-10-25T00:10")) == at("2026-10-25T00:30")
    assert not twice.contains(at("2026-10-25T00:30"))  # 02:30 CEST
    assert twice.contains(at("2026-10-25T01:00"))  # 02:00 CET
    assert twice.run_end(at("2026-10-25T01:00")) == at("2026-10-25T01:30")
    assert not twice.contains(at("2026-10-25T01:30"))


def test_a_sunday_window_lasts_three_hours_of_utc_when_clocks_go_back() -> None:
    sunday = interval(SUNDAY_PARIS)
    # 02:00 CEST (00:00 UTC) to 04:00 CET (03:00 UTC): three hours of UTC that day
    assert not sunday.contains(at("2026-10-24T23:59"))
    assert sunday.contains(at("2026-10-25T00:00"))
    assert sunday.run_end(at("2026-10-25T00:00")) == at("2026-10-25T03:00")
    assert not sunday.contains(at("2026-10-25T03:00"))


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        (
            {"times": [{"start_time": "25:00", "end_time": "26:00"}]},
            "[0].times[0].start_time",
            "00:00 and 24:00",
        ),
        (
            {"times": [{"start_time": "09:00", "end_time": "08:00"}]},
            "[0].times[0].end_time",
            "after start_time",
        ),
        (
            {"times": [{"start_time": 540, "end_time": "10:00"}]},
            "[0].times[0].start_time",
            "quote it",
        ),
        ({"times": [{"start_time": "09:00"}]}, "[0].times[0]", "start_time and end_time"),
        ({"weekdays": ["funday"]}, "[0].weekdays[0]", "not a weekday"),
        ({"weekdays": ["friday:monday"]}, "[0].weekdays[0]", "ends before it starts"),
        ({"days_of_month": [0]}, "[0].days_of_month[0]", "1 to 31"),
        ({"days_of_month": ["-1:-3"]}, "[0].days_of_month[0]", "ends before it starts"),
        ({"months": ["13"]}, "[0].months[0]", "not a month"),
        ({"years": ["soon"]}, "[0].years[0]", "not a year"),
        ({"location": "Mars/Olympus"}, "[0].location", "unknown time zone 'Mars/Olympus'"),
        ({"location": "Local"}, "[0].location", "Local is not supported"),
        ({"weekday": ["monday"]}, "[0].weekday", "unknown field"),
    ],
)
def test_a_bad_spec_names_its_key_path(spec: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(IntervalError) as caught:
        parse_specs([spec])
    assert caught.value.path == path
    assert words in caught.value.message
