"""Scheduled drills: the `drills:` settings, their crontab triggers, and one scheduled run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from runbookd.config.cron import cron_trigger
from runbookd.config.settings import SettingsError, load_settings
from runbookd.drills.schedule import DrillJob, add_drill_jobs, run_drill_job
from runbookd.drills.store import recent_drill_runs
from runbookd.store import db
from runbookd.toolchain.library import load_library

ROOT = Path(__file__).parents[3]
# A Wednesday.
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "first"),
    [
        # crontab's day numbers: 1 is Monday, 0 and 7 Sunday (APScheduler alone counts from Monday)
        ("0 3 * * 1", datetime(2026, 12, 7, 3, 0, tzinfo=UTC)),
        ("0 3 * * 0", datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),
        ("0 3 * * 7", datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),
        ("30 9 * * 1-5", datetime(2026, 12, 2, 9, 30, tzinfo=UTC) + timedelta(days=1)),
        ("0 3 * * sun", datetime(2026, 12, 6, 3, 0, tzinfo=UTC)),
        ("15 4 1 * *", datetime(2027, 1, 1, 4, 15, tzinfo=UTC)),
    ],
)
def test_crontab_lines_fire_when_cron_would(cron: str, first: datetime) -> None:
    assert cron_trigger(cron).get_next_fire_time(None, NOW) == first


def _fires(cron: str, count: int) -> list[datetime]:
    """The next ``count`` fire times after NOW, as the scheduler asks for them: each at the
    moment the one before fires."""
    trigger, fired, previous = cron_trigger(cron), [], None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, previous or NOW)
        fired.append(previous)
    return fired


def _at(*days: tuple[int, int, int], hour: int = 3) -> list[datetime]:
    return [datetime(y, m, d, hour, 0, tzinfo=UTC) for y, m, d in days]


# Fire times worked out by hand from a calendar of December 2026 (the 1st is a Tuesday) and
# January 2027 (the 1st is a Friday), reading each line as crontab(5) does.
@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        # Monday, Wednesday, Friday: the step counts from the range's start, Monday
        ("0 3 * * 1-5/2", _at((2026, 12, 4), (2026, 12, 7), (2026, 12, 9), (2026, 12, 11))),
        # every other day from Sunday: Sunday, Tuesday, Thursday, Saturday
        ("0 3 * * */2", _at((2026, 12, 3), (2026, 12, 5), (2026, 12, 6), (2026, 12, 8))),
        # a range of names over the whole week: every day
        ("0 3 * * sun-sat", _at((2026, 12, 3), (2026, 12, 4), (2026, 12, 5), (2026, 12, 6))),
        ("0 3 * * 0-7", _at((2026, 12, 3), (2026, 12, 4), (2026, 12, 5), (2026, 12, 6))),
        ("0 3 * * sat,7", _at((2026, 12, 5), (2026, 12, 6), (2026, 12, 12), (2026, 12, 13))),
        # Friday to Monday, written as two ranges since crontab's do not wrap around
        (
            "0 3 * * 5-6,0-1",
            _at((2026, 12, 4), (2026, 12, 5), (2026, 12, 6), (2026, 12, 7), (2026, 12, 11)),
        ),
        # both day fields restricted: a day matching either fires (the 13th or any Friday)
        ("0 3 13 * fri", _at((2026, 12, 4), (2026, 12, 11), (2026, 12, 13), (2026, 12, 18))),
        # only the day of the month restricted: that day alone
        ("0 3 13 * *", _at((2026, 12, 13), (2027, 1, 13), (2027, 2, 13))),
        # month and weekday names: Mondays of January
        ("0 3 * jan MON", _at((2027, 1, 4), (2027, 1, 11), (2027, 1, 18), (2027, 1, 25))),
        ("0 3 * 1 1", _at((2027, 1, 4), (2027, 1, 11), (2027, 1, 18), (2027, 1, 25))),
        ("0 */8 * * *", [NOW.replace(hour=16), datetime(2026, 12, 3, 0, 0, tzinfo=UTC)]),
    ],
)
def test_fire_times_follow_crontab(cron: str, expected: list[datetime]) -> None:
    assert _fires(cron, len(expected)) == expected


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 3 * * 5-1", "day-of-week range '5-1' runs backwards"),
        ("0 3 * * fri-mon", "day-of-week range 'fri-mon' runs backwards"),
        ("0 3 * * 8", "Bad day-of-week"),
        ("60 3 * * *", "Bad minute"),
        ("0 3 * * * *", "wrong number of fields; got 6, expected 5"),
    ],
)
def test_lines_crontab_refuses_are_refused_saying_why(cron: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cron_trigger(cron)


def test_settings_accept_drills_and_name_bad_ones(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "drills:\n"
        "  - {runbooks: all, cron: '0 3 * * 1'}\n"
        "  - {runbooks: [data-leak, online-fraud], cron: '*/30 * * * *'}\n"
    )
    drills = load_settings(good, {}).drills
    assert [(d.runbooks, d.cron) for d in drills] == [
        ("all", "0 3 * * 1"),
        (["data-leak", "online-fraud"], "*/30 * * * *"),
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "drills:\n"
        "  - {cron: '0 3 * *'}\n"
        "  - {runbooks: [Data Leak], cron: '0 3 * * 1'}\n"
        "  - {runbooks: some, cron: '0 3 * * 1'}\n"
    )
    with pytest.raises(SettingsError) as info:
        load_settings(bad, {})
    problems = "\n".join(info.value.problems)
    assert problems.splitlines() == [
        f"{bad}: drills[0].cron: not a crontab line (wrong number of fields; got 4, expected 5);"
        " write e.g. '0 3 * * 1', got '0 3 * *'",
        f"{bad}: drills[1].runbooks: 'Data Leak' is not a runbook id (lower case, digits, _ . -)",
        f"{bad}: drills[2].runbooks: expected all, or a non-empty list of runbook ids such as"
        " [data-leak], got 'some'",
    ]


class _RecordingScheduler:
    """Stands in for APScheduler's add_job: records what the service would schedule."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, object]] = []

    def add_job(self, func: object, trigger: object, **kwargs: object) -> None:
        self.jobs.append({"func": func, "trigger": trigger, **kwargs})


def test_each_schedule_becomes_one_coalesced_job() -> None:
    scheduler = _RecordingScheduler()
    jobs = [DrillJob("0 3 * * 1"), DrillJob("*/30 * * * *", ("data-leak",))]

    def run(job: DrillJob) -> None:
        raise AssertionError("not called while scheduling")

    add_drill_jobs(scheduler, jobs, run)
    assert [j["id"] for j in scheduler.jobs] == [
        "drill:all@0 3 * * 1",
        "drill:data-leak@*/30 * * * *",
    ]
    assert all(j["coalesce"] and j["max_instances"] == 1 for j in scheduler.jobs)
    assert [j["args"] for j in scheduler.jobs] == [[jobs[0]], [jobs[1]]]
    fires = [j["trigger"].get_next_fire_time(None, NOW) for j in scheduler.jobs]  # type: ignore[attr-defined]
    assert fires == [datetime(2026, 12, 7, 3, 0, tzinfo=UTC), NOW]


def test_apscheduler_accepts_the_jobs_and_plans_the_next_run() -> None:
    from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

    scheduler = BackgroundScheduler(timezone=UTC)  # never started: nothing runs
    add_drill_jobs(scheduler, [DrillJob("0 3 * * 1", ("system-crash",))], lambda job: None)
    [job] = scheduler.get_jobs()
    assert job.id == "drill:system-crash@0 3 * * 1"
    assert job.trigger.get_next_fire_time(None, NOW) == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def test_a_scheduled_run_stores_one_row_per_runbook(tmp_path: Path) -> None:
    library = load_library([ROOT / "runbooks"], load_rules=False)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'runbookd.db'}")
    try:
        db.upgrade(engine)
        started = datetime.now(UTC) - timedelta(seconds=1)
        results = run_drill_job(
            DrillJob("0 3 * * 1", ("data-leak", "retired-runbook")), library.compiled(), engine
        )
        assert [(r.runbook_id, r.passed) for r in results] == [
            ("data-leak", True),
            ("retired-runbook", False),
        ]
        with Session(engine) as session:
            rows = recent_drill_runs(session, since=started)
        by_id = {r.runbook_id: r for r in rows}
        assert set(by_id) == {"data-leak", "retired-runbook"}
        assert by_id["data-leak"].score == 1.0
        assert (
            "no runbook 'retired-runbook' in the loaded library" in by_id["retired-runbook"].details
        )
    finally:
        engine.dispose()
