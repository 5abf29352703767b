"""Five-field crontab lines (minute hour day month weekday, UTC) as the service schedules them.

Here, under ``config``, because settings validate a schedule when they are loaded and the drill
scheduler runs it: both must read a line the same way.

Fire times come from cronsim, which reads a line as crontab(5) does: 0 and 7 are Sunday, names,
ranges and steps in every field (``1-5/2``, ``*/2``, ``sun-sat``), and when both day-of-month and
day-of-week are restricted a day matching either fires. APScheduler 3's own CronTrigger numbers
weekdays from Monday and reads steps and names differently, so it is used only as the scheduler
that calls :class:`CrontabTrigger`, never to read a line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]  # no hints
from cronsim import CronSim, CronSimError

_TICK = timedelta(microseconds=1)


_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_NAMES = {
    **{d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
    **{
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
}


def _backwards_range(field: str) -> str | None:
    """A ``5-1``-style range of the field, which crontab(5) refuses: it has no wrap-around."""
    for part in field.split(","):
        low, dash, high = part.partition("/")[0].partition("-")
        ends = [int(e) if e.isdigit() else _NAMES.get(e.lower()) for e in (low, high)]
        if dash and None not in ends and ends[0] > ends[1]:  # type: ignore[operator]
            return part
    return None


def _parse(cron: str) -> None:
    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    for name, field in zip(_FIELDS, fields, strict=True):
        if (part := _backwards_range(field)) is not None:
            raise ValueError(
                f"{name} range {part!r} runs backwards; crontab ranges do not wrap around,"
                " so write it as two (day-of-week 5-1 is 5-6,0-1)"
            )
    try:
        CronSim(cron, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ValueError(str(exc)) from None  # cronsim's own words, e.g. "Bad day-of-week"


def next_fire_time(cron: str, start: datetime) -> datetime:
    """The first time at or after ``start`` (aware) that ``cron`` fires, in UTC."""
    # cronsim yields times strictly after the one it is given, at whole minutes
    fired: datetime = next(CronSim(cron, start.astimezone(UTC) - _TICK))
    return fired


class CrontabTrigger(BaseTrigger):  # type: ignore[misc]  # BaseTrigger is untyped
    """An APScheduler 3 trigger whose fire times are a crontab line's, read by cronsim."""

    def __init__(self, cron: str) -> None:
        _parse(cron)
        self.cron = cron

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        # After the last fire time, not after now: a run missed while the service was down is
        # then seen by APScheduler (and coalesced into one), as with its own triggers.
        start = now if previous_fire_time is None else previous_fire_time + _TICK
        return next_fire_time(self.cron, start)

    def __str__(self) -> str:
        return f"crontab[{self.cron}]"

    def __repr__(self) -> str:
        return f"CrontabTrigger({self.cron!r})"


def cron_trigger(cron: str) -> Any:
    """The scheduler's trigger for a crontab line, in UTC; ValueError when it is not one."""
    return CrontabTrigger(cron)
