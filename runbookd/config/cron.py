"""Five-field crontab lines (minute hour day month weekday, UTC) as the service schedules them.

Here, under ``config``, because settings validate a schedule when they are loaded and the drill
scheduler runs it: both must read a line the same way.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday(token: str) -> str:
    return _DAY_NAMES[int(token) % 7] if token.isdigit() else token


def _crontab_weekdays(field: str) -> str:
    """The day-of-week field as crontab means it (0 and 7 Sunday, 1 Monday), in day names.

    APScheduler numbers days from 0 = Monday, so `0 3 * * 1` would run on Tuesdays; names
    mean the same to both, so numbers are turned into names before APScheduler reads them.
    """
    parts: list[str] = []
    for part in field.split(","):
        low, dash, high = part.partition("-")
        if dash and low.isdigit() and high.isdigit():
            days = range(int(low), int(high) + 1)
            parts.extend(_DAY_NAMES[d % 7] for d in days)
        else:
            parts.append(_weekday(part))
    return ",".join(dict.fromkeys(parts))


def cron_trigger(cron: str) -> Any:
    """APScheduler's CronTrigger for a crontab line, in UTC; ValueError when it is not one."""
    from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]  # no hints

    fields = cron.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_crontab_weekdays(weekday),
        timezone=UTC,
    )
