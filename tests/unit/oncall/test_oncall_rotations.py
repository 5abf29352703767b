"""On-call scenarios on a virtual clock, checked against hand-computed rotations (issue 18)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from runbookd.oncall.loader import ScheduleLibrary, load_texts
from runbookd.oncall.resolve import Cover, Resolver, Shift

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

PEOPLE = """
people:
  alice: {name: Alice Example, slack: U0ALICE, email: alice@example.com}
  bob: {name: Bob Example, pagerduty: PBOB001}
  carol: {phone: "+4930111"}
  dave: {}
"""


def library(schedules: str) -> ScheduleLibrary:
    lib = load_texts([("people.yaml", PEOPLE), ("s.yaml", schedules)])
    assert lib.ok, [str(d) for d in lib.diagnostics]
    return lib


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]  # (year, month, day, hour, ...)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def who(resolver: Resolver, moment: datetime) -> str | None:
    found = resolver.who(moment)
    return None if found is None else found.person


def assert_back_to_back(shifts: list[Shift], start: datetime, end: datetime) -> None:
    """Nobody twice, nobody never: the shifts tile [start, end) exactly."""
    assert shifts[0].start == start and shifts[-1].end == end
    for a, b in itertools.pairwise(shifts):
        assert a.end == b.start
        assert a.start < a.end


DAILY = """
schedules:
  - id: payments-primary
    time_zone: Europe/Berlin
    layers:
      - id: primary
        rotation: {length: daily, handoff: "09:00", start: "2026-03-23"}
        members: [alice, bob, carol]
"""


def test_daily_handoffs_at_local_time_across_spring_forward() -> None:
    r = library(DAILY).resolver("payments-primary")
    # Turn n starts 2026-03-23 + n days, 09:00 Berlin: alice, bob, carol, alice, ...
    assert who(r, berlin(2026, 3, 23, 8, 59)) is None  # before the rotation starts
    assert who(r, berlin(2026, 3, 23, 9, 0)) == "alice"
    assert who(r, berlin(2026, 3, 24, 8, 59)) == "alice"
    assert who(r, berlin(2026, 3, 24, 9, 0)) == "bob"
    # Sat 28 March (turn 5, carol) runs until Sun 29 March 09:00 summer time = 07:00 UTC.
    assert who(r, utc(2026, 3, 29, 6, 59)) == "carol"
    assert who(r, utc(2026, 3, 29, 7, 0)) == "alice"
    shifts = r.shifts(berlin(2026, 3, 27, 9, 0), berlin(2026, 3, 31, 9, 0))
    assert [(s.person, s.end - s.start) for s in shifts] == [
        ("bob", timedelta(hours=24)),
        ("carol", timedelta(hours=23)),  # the night the clocks skip an hour
        ("alice", timedelta(hours=24)),
        ("bob", timedelta(hours=24)),
    ]
    assert all(s.start.astimezone(BERLIN).hour == 9 for s in shifts)


def test_months_of_daily_turns_match_hand_computation_dst_both_ways() -> None:
    r = library(DAILY).resolver("payments-primary")
    start, end = berlin(2026, 3, 23, 9, 0), berlin(2026, 11, 2, 9, 0)
    shifts = r.shifts(start, end)
    assert_back_to_back(shifts, start, end)
    assert len(shifts) == (end.date() - start.date()).days  # 224 turns, one per day
    for n, shift in enumerate(shifts):
        day = start.date() + timedelta(days=n)
        assert shift.person == ("alice", "bob", "carol")[n % 3]
        assert shift.start == datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN)
        hours = (shift.end - shift.start) / timedelta(hours=1)
        expected = {(3, 28): 23, (10, 24): 25}.get((day.month, day.day), 24)
        assert hours == expected, day
    # Sampled every 10 minutes, the point answer agrees with the timeline.
    moment = start
    i = 0
    while moment < end:
        while shifts[i].end <= moment:
            i += 1
        assert who(r, moment) == shifts[i].person
        moment += timedelta(minutes=10)


SKIPPED_HOUR = """
schedules:
  - id: night
    time_zone: Europe/Berlin
    layers:
      - id: nights
        rotation: {length: daily, handoff: "02:30", start: "2026-03-01"}
        members: [alice, bob]
"""


def test_handoff_inside_the_skipped_and_repeated_hour() -> None:
    r = library(SKIPPED_HOUR).resolver("night")
    # 02:30 does not exist on 29 March: the hand-off happens at 03:30 summer time (01:30 UTC).
    spring = r.shifts(utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30))
    assert [(s.start, s.end - s.start) for s in spring] == [
        (utc(2026, 3, 28, 1, 30), timedelta(hours=24)),
        (utc(2026, 3, 29, 1, 30), timedelta(hours=23)),
    ]
    # 02:30 happens twice on 25 October: the hand-off is the first (summer time, 00:30 UTC).
    autumn = r.shifts(utc(2026, 10, 24, 0, 30), utc(2026, 10, 26, 1, 30))
    assert [(s.start, s.end - s.start) for s in autumn] == [
        (utc(2026, 10, 24, 0, 30), timedelta(hours=24)),
        (utc(2026, 10, 25, 0, 30), timedelta(hours=25)),
    ]
    assert spring[0].person != spring[1].person and autumn[0].person != autumn[1].person


def test_twelve_hour_turns_in_new_york_keep_their_wall_clock_times() -> None:
    lib = library(
        """
schedules:
  - id: ops
    time_zone: America/New_York
    layers:
      - id: halves
        rotation: {length: 12h, handoff: "08:00", start: "2026-03-07"}
        members: [alice, bob, carol]
"""
    )
    r = lib.resolver("ops")
    # US spring forward: 8 March 2026, 02:00 EST -> 03:00 EDT.
    start = datetime(2026, 3, 7, 8, tzinfo=NEW_YORK)
    end = datetime(2026, 3, 10, 8, tzinfo=NEW_YORK)
    shifts = r.shifts(start, end)
    assert_back_to_back(shifts, start, end)
    assert [s.start.astimezone(NEW_YORK).hour for s in shifts] == [8, 20] * 3
    assert [(s.end - s.start) / timedelta(hours=1) for s in shifts] == [12, 11, 12, 12, 12, 12]
    assert [s.person for s in shifts] == ["alice", "bob", "carol", "alice", "bob", "carol"]


LAYERED = """
schedules:
  - id: payments-primary
    time_zone: Europe/Berlin
    layers:
      - id: business-hours
        rotation: {length: weekly, handoff: "09:00", start: "2026-03-23"}
        members: [alice, bob]
        restrictions:
          - {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}
      - id: around-the-clock
        rotation: {length: daily, handoff: "09:00", start: "2026-03-23"}
        members: [carol, dave]
    overrides:
      - {person: bob, start: "2026-03-25T12:00", end: "2026-03-25T14:00", reason: dentist swap}
"""


def test_layers_restrictions_and_file_overrides() -> None:
    r = library(LAYERED).resolver("payments-primary")
    wednesday_10 = r.who(berlin(2026, 3, 25, 10, 0))
    assert wednesday_10 is not None
    assert (wednesday_10.person, wednesday_10.via) == ("alice", "business-hours")
    assert wednesday_10.contact.slack == "U0ALICE"
    # Outside working hours the second layer answers: daily turn 2 (Wed) is carol's.
    assert who(r, berlin(2026, 3, 25, 17, 0)) == "carol"
    assert who(r, berlin(2026, 3, 28, 10, 0)) == "dave"  # Saturday: no business hours
    assert who(r, berlin(2026, 3, 30, 8, 59)) == "carol"
    assert who(r, berlin(2026, 3, 30, 9, 0)) == "bob"  # second week of the weekly layer
    over = r.who(berlin(2026, 3, 25, 13, 0))
    assert over is not None and (over.person, over.via) == ("bob", "override")
    assert who(r, berlin(2026, 3, 25, 14, 0)) == "alice"
    day = r.shifts(berlin(2026, 3, 25, 0, 0), berlin(2026, 3, 26, 0, 0))
    assert [(s.start.astimezone(BERLIN).strftime("%H:%M"), s.person, s.via) for s in day] == [
        ("00:00", "dave", "around-the-clock"),  # Tuesday's daily turn runs to Wed 09:00
        ("09:00", "alice", "business-hours"),
        ("12:00", "bob", "override"),
        ("14:00", "alice", "business-hours"),
        ("17:00", "carol", "around-the-clock"),
    ]


def test_overnight_restriction_leaves_gaps_without_a_fallback() -> None:
    lib = library(
        """
schedules:
  - id: weekend
    time_zone: Europe/Berlin
    layers:
      - id: friday-night
        rotation: {length: weekly, handoff: "17:00", start: "2026-03-20"}
        members: [alice, bob]
        restrictions: [{days: [fri], from: "17:00", to: "09:00"}]
"""
    )
    r = lib.resolver("weekend")
    shifts = r.shifts(berlin(2026, 3, 20, 0, 0), berlin(2026, 4, 4, 0, 0))
    # Fri 27 March 17:00 CET -> Sat 28 March 09:00 CET: 16 h; DST comes only on the Sunday.
    assert [(s.start, s.end, s.person) for s in shifts] == [
        (berlin(2026, 3, 20, 17, 0), berlin(2026, 3, 21, 9, 0), "alice"),
        (berlin(2026, 3, 27, 17, 0), berlin(2026, 3, 28, 9, 0), "bob"),
        (berlin(2026, 4, 3, 17, 0), berlin(2026, 4, 4, 0, 0), "alice"),
    ]
    assert who(r, berlin(2026, 3, 25, 12, 0)) is None


def test_runtime_overrides_win_only_once_made_and_until_removed() -> None:
    base = library(DAILY).resolver("payments-primary")
    made = utc(2026, 4, 1, 12, 0)
    cover = Cover("dave", berlin(2026, 4, 2, 9, 0), berlin(2026, 4, 3, 9, 0), "swap", made=made)
    later = Cover(
        "carol",
        berlin(2026, 4, 2, 20, 0),
        berlin(2026, 4, 2, 22, 0),
        made=made + timedelta(hours=1),
    )
    r = base.with_covers([cover, later])
    page = berlin(2026, 4, 2, 21, 0)
    assert who(base, page) == "bob"  # turn 10
    assert who(r, page) == "carol"  # the override made last wins where two overlap
    found = r.who(page, known_at=made)
    assert found is not None and (found.person, found.via) == ("dave", "override")
    earlier = r.who(page, known_at=made - timedelta(seconds=1))
    assert earlier is not None and earlier.person == "bob"
    removed = Cover(
        cover.person, cover.start, cover.end, made=made, removed=made + timedelta(days=2)
    )
    r2 = base.with_covers([removed])
    assert who(r2, page) == "bob"  # a removed override is gone for people asking now
    replay = r2.who(page, known_at=page)  # the page happened before it was removed
    assert replay is not None and replay.person == "dave"


def test_next_change_and_unknown_schedule() -> None:
    lib = library(DAILY)
    r = lib.resolver("payments-primary")
    nxt = r.next_change(berlin(2026, 3, 24, 12, 0))
    assert nxt is not None and (nxt.person, nxt.start) == ("carol", berlin(2026, 3, 25, 9, 0))
    with pytest.raises(KeyError, match="did you mean 'payments-primary'"):
        lib.resolver("payments-primry")
