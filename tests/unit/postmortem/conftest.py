"""Fixtures: a fresh database (SQLite, or PostgreSQL when RUNBOOKD_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.postmortem.rig import database_url


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    with database_url(tmp_path) as url:
        yield url
