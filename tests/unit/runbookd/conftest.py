"""Shared fixtures: a migrated store, and a worker rig on it (SQLite, or a PostgreSQL schema when
RUNBOOKD_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from runbookd.store import db as store
from tests.unit.postmortem.rig import Rig, database_url


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    with database_url(tmp_path) as url:
        engine = store.make_engine(url)
        store.upgrade(engine)
        yield engine
        engine.dispose()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with database_url(tmp_path) as url:
        rig = Rig(url)
        yield rig
        rig.db.dispose()
