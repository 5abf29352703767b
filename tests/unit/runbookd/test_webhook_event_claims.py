"""``webhook_event`` claims: one caller acts on an event id, a retry does not, and a claim whose
holder died is taken over once it is stale -- on SQLite or PostgreSQL, with the time given."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from runbookd.store import db as store
from runbookd.store.webhook_events import KEEP, STALE_AFTER, claim, finish, release
from tests.unit.postmortem.rig import database_url

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    with database_url(tmp_path) as url:
        engine = store.make_engine(url)
        store.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def test_an_event_is_taken_once_per_source(db: Engine) -> None:
    assert claim(db, "pagerduty", "E1", "incident.resolved", "INC-1", T0) == "new"
    assert claim(db, "pagerduty", "E1", "incident.resolved", "INC-1", T0) == "duplicate"
    assert claim(db, "slack", "E1", "block_actions", "INC-1", T0) == "new"
    finish(db, "pagerduty", "E1", T0)
    later = T0 + 10 * STALE_AFTER
    assert claim(db, "pagerduty", "E1", "incident.resolved", "INC-1", later) == "duplicate"


def test_a_claim_left_by_a_crash_is_taken_over_when_stale(db: Engine) -> None:
    assert claim(db, "pagerduty", "E2", "incident.acknowledged", "INC-1", T0) == "new"
    soon = T0 + STALE_AFTER - timedelta(seconds=1)
    assert claim(db, "pagerduty", "E2", "incident.acknowledged", "INC-1", soon) == "duplicate"
    stale = T0 + STALE_AFTER + timedelta(seconds=1)
    assert claim(db, "pagerduty", "E2", "incident.acknowledged", "INC-1", stale) == "new"
    # taken over once: the next retry finds the fresh claim
    assert claim(db, "pagerduty", "E2", "incident.acknowledged", "INC-1", stale) == "duplicate"


def test_a_released_claim_lets_the_retry_act(db: Engine) -> None:
    assert claim(db, "pagerduty", "E3", "incident.resolved", None, T0) == "new"
    release(db, "pagerduty", "E3")
    assert claim(db, "pagerduty", "E3", "incident.resolved", None, T0) == "new"


def test_event_ids_are_forgotten_after_a_week(db: Engine) -> None:
    assert claim(db, "pagerduty", "OLD", "incident.resolved", None, T0) == "new"
    finish(db, "pagerduty", "OLD", T0)
    week = T0 + KEEP + timedelta(seconds=1)
    assert claim(db, "pagerduty", "NEW", "incident.resolved", None, week) == "new"
    finish(db, "pagerduty", "NEW", week)
    # the old one is gone, the new one kept
    assert claim(db, "pagerduty", "OLD", "incident.resolved", None, week) == "new"
    assert claim(db, "pagerduty", "NEW", "incident.resolved", None, week) == "duplicate"
