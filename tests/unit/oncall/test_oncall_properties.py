"""Generated schedules in zones with DST changes: nobody is on call twice, and nobody never.

For any rotation the shifts over a window must tile it back to back, in turn order, each turn
starting at the local hand-off time (or, on a day the clocks skip it, at that time plus the
jump), and the point answer ``who(t)`` must agree with the timeline everywhere.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from runbookd.oncall.loader import load_texts

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # a 30-minute DST change
    "America/Santiago",
    "Asia/Kolkata",  # no DST, half-hour offset
]
LENGTHS = ["daily", "weekly", "2d", "2w", "2h", "3h", "6h", "8h", "12h"]
PEOPLE = ["p0", "p1", "p2", "p3"]


@st.composite
def schedules(draw: st.DrawFn) -> tuple[str, str, list[str], datetime, datetime, list[datetime]]:
    zone = draw(st.sampled_from(ZONES))
    length = draw(st.sampled_from(LENGTHS))
    hour, minute = draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))
    start = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 330)))
    members = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4, unique=True))
    text = f"""
people: {{p0: {{}}, p1: {{}}, p2: {{}}, p3: {{}}}}
schedules:
  - id: s
    time_zone: {zone}
    layers:
      - id: l
        rotation: {{length: {length}, handoff: "{hour:02d}:{minute:02d}", start: "{start}"}}
        members: [{", ".join(members)}]
"""
    first = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
    window_start = first + timedelta(hours=draw(st.integers(0, 24 * 60)))
    window_end = window_start + timedelta(days=draw(st.integers(1, 45)))
    probes = draw(
        st.lists(st.integers(0, int((window_end - window_start).total_seconds()) - 1), max_size=30)
    )
    return (
        text,
        zone,
        members,
        window_start,
        window_end,
        [window_start + timedelta(seconds=p) for p in probes],
    )


@settings(max_examples=150, deadline=None)
@given(schedules())
def test_turns_tile_the_window_in_order_at_local_handoffs(
    case: tuple[str, str, list[str], datetime, datetime, list[datetime]],
) -> None:
    text, zone, members, start, end, probes = case
    lib = load_texts([("s.yaml", text)])
    assert lib.ok, [str(d) for d in lib.diagnostics]
    r = lib.resolver("s")
    shifts = r.shifts(start, end)
    assert shifts[0].start == start and shifts[-1].end == end
    for a, b in itertools.pairwise(shifts):
        assert a.end == b.start  # back to back: nobody never, nobody twice
        assert a.start < a.end
        if len(members) > 1:
            # the next turn is the next member's
            assert members.index(b.person) == (members.index(a.person) + 1) % len(members)
    layer = lib.schedules["s"].layers[0]
    handoff = layer.rotation.handoff
    tz = ZoneInfo(zone)
    for shift in shifts[1:]:
        local = shift.start.astimezone(tz)
        wanted = datetime.combine(local.date(), handoff)
        naive = local.replace(tzinfo=None)
        # At the hand-off time, or later by the DST jump when the clocks skipped it that day.
        gap = (naive - wanted) % timedelta(hours=24)
        step = layer.rotation.length
        assert gap % min(step, timedelta(days=1)) <= timedelta(hours=1), (shift, handoff)
    for probe in probes:
        found = r.who(probe)
        covering = next(s for s in shifts if s.start <= probe < s.end)
        assert found is not None and found.person == covering.person
