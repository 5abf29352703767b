"""Drill results in the store: migration 0003, `runbookd drill --config`, recent_drill_runs.

Runs on SQLite, and on PostgreSQL when RUNBOOKD_TEST_DATABASE_URL is set (a fresh schema).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import Session

from runbookd.cli.main import main
from runbookd.drills.run import DrillCheck, DrillResult
from runbookd.drills.store import recent_drill_runs, save_drill_results
from runbookd.store import db
from tests.e2e.harness import REPO, Database


def _result(rb_id: str, started: datetime, *, passed: bool) -> DrillResult:
    result = DrillResult(rb_id, 2, "10.1", started, started + timedelta(seconds=1))
    result.checks = [
        DrillCheck("detect t#1", True, "opened at 0s"),
        DrillCheck("step s", passed, "" if passed else "skipped in every drill"),
    ]
    return result


def test_migration_creates_drill_run_and_rows_round_trip(database: Database) -> None:
    engine = db.make_engine(database.url)
    try:
        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
        columns = {c["name"] for c in inspect(engine).get_columns("drill_run")}
        assert columns == {
            "id",
            "runbook_id",
            "runbook_version",
            "started_at",
            "finished_at",
            "passed",
            "score",
            "details",
        }
        t0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
        save_drill_results(engine, [_result("old", t0 - timedelta(days=30), passed=True)])
        save_drill_results(
            engine,
            [_result("a", t0, passed=True), _result("b", t0 + timedelta(hours=1), passed=False)],
        )
        with Session(engine) as session:
            rows = recent_drill_runs(session, since=t0)
            assert [r.runbook_id for r in rows] == ["b", "a"]  # newest first, "old" left out
            b = rows[0]
            assert (b.passed, b.score, b.runbook_version) == (False, 0.5, 2)
            # SQLite gives the time back without its zone; both give the UTC moment stored.
            started = b.started_at if b.started_at.tzinfo else b.started_at.replace(tzinfo=UTC)
            assert started == t0 + timedelta(hours=1)
            # a `since` in another zone means the same moment
            cet = timezone(timedelta(hours=1))
            assert [r.runbook_id for r in recent_drill_runs(session, since=t0.astimezone(cet))] == [
                "b",
                "a",
            ]
            details = json.loads(b.details)
            assert details["section"] == "10.1"
            assert details["checks"][1] == {
                "name": "step s",
                "passed": False,
                "detail": "skipped in every drill",
            }
            only_a = recent_drill_runs(session, since=t0, runbook_id="a")
            assert [r.runbook_id for r in only_a] == ["a"]
    finally:
        engine.dispose()


def test_drill_command_stores_results_in_the_configured_database(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps({"database_url": database.url, "runbooks": [str(REPO / "runbooks")]})
    )
    before = datetime.now(UTC)
    assert main(["drill", "--config", str(config), "system-crash", "network-failure"]) == 0
    assert "2 runbooks drilled: 2 passed, 0 failed" in capsys.readouterr().out
    engine = db.make_engine(database.url)
    try:
        with Session(engine) as session:
            rows = recent_drill_runs(session, since=before - timedelta(seconds=1))
    finally:
        engine.dispose()
    assert sorted(r.runbook_id for r in rows) == ["network-failure", "system-crash"]
    assert all(r.passed and r.score == 1.0 for r in rows)
    drills = json.loads(next(r for r in rows if r.runbook_id == "system-crash").details)["drills"]
    assert {d["trigger"] for d in drills} == {"host-down", "out-of-memory", "disk-full", "hardware"}


def test_drill_command_without_config_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a stray ./data would mean it wrote the default database
    assert main(["drill", "--runbooks", str(REPO / "runbooks"), "online-fraud"]) == 0
    assert "1 passed" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_database_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "database_url": "postgresql+psycopg://drill:s3cret@127.0.0.1:1/none",
                "runbooks": [str(REPO / "runbooks")],
            }
        )
    )
    assert main(["drill", "--config", str(config), "online-fraud"]) == 1
    err = capsys.readouterr().err
    assert "cannot store the results in postgresql+psycopg://drill:***@127.0.0.1:1/none" in err
    assert "s3cret" not in err
