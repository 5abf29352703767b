"""The post-mortem says when paging was suppressed and by what: one sentence per pause, built
from the pause and resume notes the engine wrote on the timeline (virtual clock)."""

from __future__ import annotations

from datetime import timedelta

from runbookd.postmortem.muted import paging_suppressed
from tests.unit.engine.test_silences import START, alert, silence, sim


def test_a_pause_and_its_end_read_as_one_line_naming_the_silence() -> None:
    s = sim()
    s.ingest([alert("db-1", START)])  # 01:00, paged; the deadline is 01:15
    s.silence(silence("s1", START, START + timedelta(hours=2)))
    s.run_until(START + timedelta(hours=3))
    [incident] = s.incidents()
    assert paging_suppressed(incident.timeline, s.now) == [
        "Paging suppressed 01:15-03:00 UTC by silence s1 (kernel upgrade)."
    ]


def test_a_pause_the_resolution_cut_short_ends_with_the_incident() -> None:
    s = sim()
    s.ingest([alert("db-1", START)])
    s.silence(silence("s1", START, START + timedelta(hours=2)))
    s.run_until(START + timedelta(minutes=40))
    s.ingest([alert("db-1", START + timedelta(minutes=40), "resolved")])
    [incident] = s.incidents()
    assert incident.resolved_at == START + timedelta(minutes=40)
    assert paging_suppressed(incident.timeline, incident.resolved_at) == [
        "Paging suppressed 01:15-01:40 UTC by silence s1 (kernel upgrade)."
    ]
