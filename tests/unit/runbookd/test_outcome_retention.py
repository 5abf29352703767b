"""``retention.alert_outcomes``: the engine thread deletes alert outcomes older than the
configured age, by its injected wall clock; incidents and their timelines stay (SQLite, and
PostgreSQL when RUNBOOKD_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from runbookd.config.settings import Settings, load_settings
from runbookd.service import retention
from runbookd.service.worker import Worker
from runbookd.store import tables as t
from tests.unit.postmortem.rig import REPO, Rig, database_url


class RetainingRig(Rig):
    """The rig's engine thread with ``retention.alert_outcomes`` set, as ``serve`` passes it."""

    max_age: timedelta | None = timedelta(days=30)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.worker = Worker(self.db, wall=self.wall, outcome_retention=self.max_age)
        self.worker.recover()

    def outcomes(self) -> list[tuple[str, str]]:
        c = t.alert_outcome.c
        with self.db.connect() as conn:
            rows = conn.execute(select(c.name, c.labels).order_by(c.id)).all()
        return [(r.name, r.labels) for r in rows]


class KeepingRig(RetainingRig):
    max_age = None


def stranger(rig: Rig, host: str) -> None:
    rig.alert("HostSwapIsFillingUp", instance=host)  # no runbook takes it: outcome unmatched


def test_outcomes_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    with database_url(tmp_path) as url:
        rig = RetainingRig(url)
        rig.alert("PaymentFailureRateHigh", channel="alipay")
        rig.alert("PaymentChannelProbeFailed", channel="alipay")  # INC-1
        stranger(rig, "old")
        rig.at(timedelta(days=20))
        stranger(rig, "recent")
        rig.at(timedelta(days=20, minutes=30))
        assert len(rig.outcomes()) == 4  # nothing is 30 days old yet
        rig.at(timedelta(days=31))
        stranger(rig, "new")  # the commit after which the engine thread prunes
        kept = [labels for _, labels in rig.outcomes()]
        assert len(kept) == 2 and "recent" in kept[0] and "new" in kept[1]
        assert rig.worker.outcome_retention.deleted == 3
        with rig.db.connect() as conn:
            incident = conn.execute(select(t.incident.c.id, t.incident.c.opened_at)).one()
            timeline = conn.execute(
                select(t.timeline.c.kind).where(t.timeline.c.incident_id == "INC-1")
            ).all()
        assert incident.id == "INC-1" and len(timeline) > 3  # the record of what happened stays
        rig.db.dispose()


def test_null_keeps_every_outcome(tmp_path: Path) -> None:
    with database_url(tmp_path) as url:
        rig = KeepingRig(url)
        stranger(rig, "old")
        rig.at(timedelta(days=400))
        stranger(rig, "new")
        assert len(rig.outcomes()) == 2
        rig.db.dispose()


def test_the_default_is_30_days_and_the_key_takes_a_duration_or_null(tmp_path: Path) -> None:
    assert Settings().retention.alert_outcomes == timedelta(days=30)
    bundled = load_settings(REPO / "config.yaml", {})
    assert bundled.retention.alert_outcomes == timedelta(days=30)
    path = tmp_path / "config.yaml"
    path.write_text("retention: {alert_outcomes: 7d}\n")
    assert load_settings(path, {}).retention.alert_outcomes == timedelta(days=7)
    env = {"RUNBOOKD_RETENTION__ALERT_OUTCOMES": ""}  # empty = null, as for every optional key
    assert load_settings(path, env).retention.alert_outcomes is None


def test_a_pass_runs_at_most_every_10_minutes(tmp_path: Path) -> None:
    with database_url(tmp_path) as url:
        rig = RetainingRig(url)
        stranger(rig, "t0")
        rig.at(timedelta(minutes=5))
        stranger(rig, "t5")
        rig.at(timedelta(days=30, minutes=1))
        stranger(rig, "a")  # a pass: t0 is 30 days old
        assert "t5" in rig.outcomes()[0][1]  # the oldest left
        rig.at(timedelta(days=30, minutes=6))
        stranger(rig, "b")  # t5 is 30 days old too, but the last pass was 5 minutes ago
        assert len(rig.outcomes()) == 3
        rig.at(timedelta(days=30, minutes=12))
        stranger(rig, "c")
        assert not any("t5" in labels for _, labels in rig.outcomes())
        rig.db.dispose()


def test_a_backlog_goes_in_batches_over_the_following_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    with database_url(tmp_path) as url:
        rig = RetainingRig(url)
        for n in range(5):
            stranger(rig, f"old-{n}")
        rig.at(timedelta(days=31))
        stranger(rig, "new-0")  # a full batch: the oldest two go, and the next commit goes on
        assert len(rig.outcomes()) == 4
        stranger(rig, "new-1")
        stranger(rig, "new-2")
        assert [labels.count("new") for _, labels in rig.outcomes()] == [1, 1, 1]
        rig.db.dispose()
