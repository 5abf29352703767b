"""Local wall-clock times to instants, with one stated rule for the hours DST skips or repeats."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive local time in ``tz``.

    A time that the clocks skip (02:30 on a spring-forward night in Europe/Berlin) is taken with
    the offset in force before the jump, i.e. it happens at 03:30 summer time; a time that occurs
    twice (02:30 on the autumn night) is its first occurrence. Both are PEP 495's ``fold=0``;
    written down because a hand-off time is promised to people.
    """
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock time of an aware instant in ``tz``."""
    return moment.astimezone(tz).replace(tzinfo=None)


def aware(moment: datetime, tz: ZoneInfo) -> datetime:
    """An instant: aware datetimes are kept, naive ones are read as local times in ``tz``."""
    if moment.tzinfo is None:
        return instant(moment, tz)
    return moment.astimezone(UTC)
