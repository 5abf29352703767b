"""Maintenance windows in the engine thread (the real journal, worker and tables; a virtual wall
clock): the windows travel in the runbook library's journal entry, the window is judged at
each entry's journal time across a daylight-saving change, and a restart that replays the
journal under a different wall clock decides exactly as the first run did."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from runbookd.engine.clock import VirtualClock
from runbookd.service.journal import library_payload
from runbookd.service.oncall import Overrides
from runbookd.service.silences import SilenceBook, SilenceWorker
from runbookd.store import db as store
from runbookd.store import tables as t
from runbookd.store.codec import loads
from tests.unit.engine.test_silences import RUNBOOK
from tests.unit.postmortem.rig import T0, Rig, database_url

# Sunday 29 March 2026 in Paris: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
WINDOWS: dict[str, Any] = {
    "maintenance_windows": [
        {
            "name": "sunday-db",
            "matchers": ['instance=~"db.*"'],
            "comment": "weekly patching",
            "time_intervals": [
                {
                    "weekdays": ["sunday"],
                    "times": [{"start_time": "02:00", "end_time": "04:00"}],
                    "location": "Europe/Paris",
                }
            ],
        }
    ]
}
DST_DAY = datetime(2026, 3, 29, tzinfo=UTC)


@dataclass
class WindowRig(Rig):
    windows: dict[str, Any] = field(default_factory=dict)
    wall_start: datetime = T0

    def __post_init__(self) -> None:
        self.db = store.make_engine(self.url)
        store.upgrade(self.db)
        self.wall = VirtualClock(self.wall_start)
        self.worker = SilenceWorker(
            self.db, overrides=Overrides(), silences=SilenceBook(), wall=self.wall
        )
        self.worker.recover()
        if self.windows:
            files = [(str(p), p.read_text()) for p in self.runbooks]
            self._journal("runbooks", library_payload(files, windows=self.windows))

    def goto(self, moment: datetime) -> None:
        self.at(moment - T0)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WindowRig]:
    (tmp_path / "host.yaml").write_text(RUNBOOK)
    with database_url(tmp_path) as url:
        yield WindowRig(url, runbooks=[tmp_path / "host.yaml"], windows=WINDOWS)


def _outcomes(rig: Rig) -> list[tuple[str, str, str | None]]:
    with rig.db.connect() as conn:
        rows = conn.execute(
            select(
                t.alert_outcome.c.labels, t.alert_outcome.c.outcome, t.alert_outcome.c.results
            ).order_by(t.alert_outcome.c.id)
        ).all()
    out = []
    for labels, outcome, results in rows:
        muted = next((r.get("window") for r in loads(results) if r.get("window")), None)
        out.append((loads(labels)["instance"], outcome, muted))
    return out


def _pages(rig: Rig, instance: str | None = None) -> list[tuple[datetime, str]]:
    """Pages (escalation calls) in the outbox, of the incident of ``instance`` or all."""
    with rig.db.connect() as conn:
        rows = conn.execute(
            select(t.outbox.c.incident_id, t.outbox.c.created_at, t.outbox.c.payload).order_by(
                t.outbox.c.created_at, t.outbox.c.call_id
            )
        ).all()
        incidents = dict(conn.execute(select(t.incident.c.id, t.incident.c.labels)).all())
    out = []
    for incident, at, payload in rows:
        data = loads(payload)
        mine = instance is None or incidents[incident].get("instance") == instance
        if data.get("role") == "notify" and mine:
            out.append((at if at.tzinfo else at.replace(tzinfo=UTC), str(data.get("level"))))
    return out


def test_the_window_starts_at_the_jump_and_holds_paging_to_its_end(rig: WindowRig) -> None:
    rig.goto(DST_DAY + timedelta(minutes=59))  # 01:59 CET: outside
    rig.alert("HostDown", instance="db-1")
    rig.goto(DST_DAY + timedelta(hours=1))  # 03:00 CEST: inside
    rig.alert("HostDown", instance="db-2")
    rig.alert("HostDown", instance="web-1")  # not matched
    rig.goto(DST_DAY + timedelta(hours=2, minutes=5))
    assert _outcomes(rig) == [
        ("db-1", "opened", None),
        ("db-2", "silenced", "sunday-db"),
        ("web-1", "opened", None),
    ]
    # db-1 paged at 00:59; its 01:14 deadline waits for 04:00 CEST = 02:00 UTC
    assert _pages(rig, "db-1") == [
        (DST_DAY + timedelta(minutes=59), "oncall"),
        (DST_DAY + timedelta(hours=2), "lead"),
    ]
    # web-1 is not in the window: paged, then escalated 15 minutes later
    assert _pages(rig, "web-1")[:2] == [
        (DST_DAY + timedelta(hours=1), "oncall"),
        (DST_DAY + timedelta(hours=1, minutes=15), "lead"),
    ]


def test_a_replay_under_another_wall_clock_decides_as_the_first_run(
    rig: WindowRig,
) -> None:
    rig.goto(DST_DAY + timedelta(minutes=59))
    rig.alert("HostDown", instance="db-1")
    rig.goto(DST_DAY + timedelta(hours=1, minutes=30))
    rig.alert("HostDown", instance="db-2")
    rig.goto(DST_DAY + timedelta(hours=3))
    before_outcomes, before_pages = _outcomes(rig), _pages(rig)
    before = {i.id: (dict(i.labels), i.level) for i in rig.worker.engine.incidents.values()}

    # A restart in July, on a Wednesday at noon: the window is closed by the wall clock, but
    # the replay reads each entry's own time, so db-2 is still muted and nothing pages again.
    restarted = WindowRig(
        rig.url, runbooks=rig.runbooks, wall_start=datetime(2026, 7, 1, 12, tzinfo=UTC)
    )
    assert restarted.worker.library_digest == rig.worker.library_digest
    after = {i.id: (dict(i.labels), i.level) for i in restarted.worker.engine.incidents.values()}
    assert after == before and len(after) == 1
    assert restarted.worker.engine.mutes.windows[0].name == "sunday-db"
    assert _outcomes(restarted) == before_outcomes
    assert _pages(restarted) == before_pages
