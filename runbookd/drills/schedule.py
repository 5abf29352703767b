"""Scheduled drills: the ``drills:`` key of config.yaml, run by the service's APScheduler.

Each entry names runbooks (or ``all``) and a five-field crontab in UTC. A run drills the runbooks
the service has loaded at that moment and stores one ``drill_run`` row per runbook; a runbook id
the library no longer has is stored as a failed drill saying so, rather than skipped in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from runbookd.config.cron import cron_trigger
from runbookd.drills.run import DrillCheck, Driller, DrillResult
from runbookd.drills.store import save_drill_results
from runbookd.engine.compiler import CompiledRunbook


@dataclass(frozen=True)
class DrillJob:
    """One schedule: ``runbooks`` None means every runbook of the library."""

    cron: str
    runbooks: tuple[str, ...] | None = None

    @property
    def job_id(self) -> str:
        names = "all" if self.runbooks is None else ",".join(self.runbooks)
        return f"drill:{names}@{self.cron}"


def drill_selected(job: DrillJob, compiled: Sequence[CompiledRunbook]) -> list[DrillResult]:
    """Drill what the job names; unknown ids become failed results naming the problem."""
    by_id = {c.runbook.id: c for c in compiled}
    results = []
    wanted = list(by_id) if job.runbooks is None else list(job.runbooks)
    for rb_id in wanted:
        found = by_id.get(rb_id)
        if found is not None:
            results.append(Driller(found).run())
            continue
        now = datetime.now(UTC)
        missing = DrillResult(rb_id, 0, "", now, now)
        missing.checks.append(
            DrillCheck("runbook loaded", False, f"no runbook {rb_id!r} in the loaded library")
        )
        results.append(missing)
    return results


def run_drill_job(
    job: DrillJob, compiled: Sequence[CompiledRunbook], engine: Engine
) -> list[DrillResult]:
    """One scheduled run: drill and store. Blocking; the service calls it in a thread."""
    results = drill_selected(job, compiled)
    save_drill_results(engine, results)
    return results


def add_drill_jobs(
    scheduler: Any, jobs: Sequence[DrillJob], run: Callable[[DrillJob], Any]
) -> None:
    """Register one scheduler job per schedule; ``run(job)`` does the work when it fires.

    Missed runs (the service was down at 03:00) are coalesced into one, and a drill still
    running when the next is due is not started twice.
    """
    for job in jobs:
        scheduler.add_job(
            run,
            cron_trigger(job.cron),
            args=[job],
            id=job.job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
