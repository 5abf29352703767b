"""The service schedules the configured drills and stores what a scheduled run finds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from runbookd.connectors.registry import load_specs
from runbookd.drills.schedule import DrillJob
from runbookd.drills.store import recent_drill_runs
from runbookd.service.core import Options, Service

ROOT = Path(__file__).parents[3]


def test_service_schedules_drills_and_a_run_stores_results(tmp_path: Path) -> None:
    job = DrillJob("0 3 * * 1", ("online-fraud",))
    options = Options(
        database_url=f"sqlite:///{tmp_path / 'runbookd.db'}",
        runbooks=[ROOT / "runbooks"],
        drills=(job,),
    )
    service = Service(options, load_specs())

    async def scenario() -> list[str]:
        await service.start()
        try:
            jobs = service._scheduler.get_jobs()
            assert [j.id for j in jobs] == ["drill:online-fraud@0 3 * * 1"]
            # The next Monday 03:00 UTC after a Wednesday, from an injected "now".
            wednesday = datetime(2026, 12, 2, 10, tzinfo=UTC)
            assert jobs[0].trigger.get_next_fire_time(None, wednesday) == datetime(
                2026, 12, 7, 3, tzinfo=UTC
            )
            # What the job does when it fires, called directly: no waiting for Monday.
            before = datetime.now(UTC) - timedelta(seconds=1)
            await jobs[0].func(*jobs[0].args)
            with Session(service.db) as session:
                rows = recent_drill_runs(session, since=before)
            return [f"{r.runbook_id} {r.passed} {r.score}" for r in rows]
        finally:
            await service.stop()

    assert asyncio.run(scenario()) == ["online-fraud True 1.0"]


def test_no_scheduler_without_polls_or_drills(tmp_path: Path) -> None:
    options = Options(
        database_url=f"sqlite:///{tmp_path / 'runbookd.db'}", runbooks=[ROOT / "runbooks"]
    )
    service = Service(options, load_specs())

    async def scenario() -> object:
        await service.start()
        try:
            return service._scheduler
        finally:
            await service.stop()

    assert asyncio.run(scenario()) is None
