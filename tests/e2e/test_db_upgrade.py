"""`runbookd db upgrade` applies the migrations to the configured database, idempotently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runbookd.store.db import head_revision
from tests.e2e.harness import Database


def upgrade(database: Database, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNBOOKD_DATABASE_URL": database.url}
    env.pop("RUNBOOKD_TEST_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "runbookd.cli.main", "db", "upgrade"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_db_upgrade_then_again(database: Database, tmp_path: Path) -> None:
    first = upgrade(database, tmp_path)
    assert first.returncode == 0, first.stderr
    # The newest revision, whichever that is: each new migration must not break this test.
    head = head_revision()
    assert first.stdout.strip() == f"schema at revision {head} (was None)"
    second = upgrade(database, tmp_path)
    assert second.stdout.strip() == f"schema at revision {head} (current)"


def test_a_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = upgrade(Database("postgresql+psycopg://nobody@127.0.0.1:1/none"), tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("runbookd db upgrade: OperationalError")
    assert "Traceback" not in result.stderr
