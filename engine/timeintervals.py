"""Recurring time intervals in Alertmanager's ``time_intervals`` syntax, read from config.

A named interval is a list of specs; an instant is inside it when it is inside any spec. A spec
has up to five fields -- ``times`` (``start_time``/``end_time`` as ``HH:MM``, start inclusive,
end exclusive, ``24:00`` allowed as an end), ``weekdays``, ``days_of_month`` (negative numbers
count from the month's end, ``-1`` being its last day), ``months`` and ``years`` -- each a list
of values or inclusive ``start:end`` ranges, plus a ``location`` (an IANA zone, UTC when absent).
An instant is inside a spec when every field present has one entry that holds; an absent field
always holds. Day and time fields are read on the wall clock of ``location``.

``Local`` is refused as a location: replicas and journal replays must agree on every decision,
and the host's zone is not part of the journal. Everything here is pure (the engine's clock is
the caller's), and ``run_end`` says until when an instant inside stays inside, so a paused
escalation knows when to look again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
FIELDS = ("times", "weekdays", "days_of_month", "months", "years", "location")
#: Minutes in a day: ``24:00`` as an end.
DAY = 24 * 60
_MINUTE = timedelta(minutes=1)
#: ``run_end`` across a change of offset looks this many minutes ahead at most (callers look
#: again at the instant it returns, so a longer run is only cut into pieces).
_WALK_LIMIT = DAY + 2 * 60


class IntervalError(ValueError):
    """A spec that is not valid; ``path`` is the key path under the interval (``[0].times``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


Range = tuple[int, int]


@dataclass(frozen=True)
class Spec:
    """One entry of a named interval's list; ``None`` fields hold always."""

    times: tuple[Range, ...] | None = None  # minutes since local midnight, end exclusive
    weekdays: tuple[Range, ...] | None = None  # 0 = Monday
    days_of_month: tuple[Range, ...] | None = None  # may be negative, resolved per month
    months: tuple[Range, ...] | None = None
    years: tuple[Range, ...] | None = None
    location: str = "UTC"

    @property
    def zone(self) -> tzinfo:
        return UTC if self.location == "UTC" else ZoneInfo(self.location)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        if not self._day_holds(local.date()):
            return False
        if self.times is None:
            return True
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.times)

    def run_end(self, moment: datetime) -> datetime:
        """An instant after ``moment`` (which is inside) up to which the spec surely holds:
        the end of the time range, or the next local midnight. It may end earlier than the
        spec really does (a range to 24:00 followed by one from 00:00): callers look again.
        It never ends later, and it is always after ``moment``."""
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        end = DAY
        if self.times is not None:
            end = max(e for s, e in self.times if s <= minute < e)
            grown = True
            while grown:  # overlapping or touching ranges make one run
                grown = False
                for start, stop in self.times:
                    if start <= end < stop:
                        end, grown = stop, True
        day = local.date() + timedelta(days=end // DAY)
        wall = datetime.combine(day, time(end % DAY // 60, end % 60), tzinfo=self.zone)
        candidate = wall.astimezone(UTC)
        if candidate > moment and candidate.astimezone(self.zone).utcoffset() == local.utcoffset():
            return candidate  # no change of offset in between: wall time maps straight to UTC
        return self._walk_out(moment)

    def _walk_out(self, moment: datetime) -> datetime:
        # A daylight-saving change lies between here and the wall-clock end: the local end may
        # not exist (clocks jump over it) or exist twice (clocks go back). Walk minute by
        # minute (offsets are whole minutes) to the first instant outside; a day at most.
        step = moment.astimezone(UTC).replace(second=0, microsecond=0)
        for _ in range(_WALK_LIMIT):
            step += _MINUTE
            if not self.contains(step):
                return step
        return step

    def _day_holds(self, day: date) -> bool:
        if self.weekdays is not None and not _within(day.weekday(), self.weekdays):
            return False
        if self.months is not None and not _within(day.month, self.months):
            return False
        if self.years is not None and not _within(day.year, self.years):
            return False
        if self.days_of_month is not None:
            last = _month_length(day)
            resolved = [(_resolve(s, last), _resolve(e, last)) for s, e in self.days_of_month]
            if not _within(day.day, resolved):
                return False
        return True


@dataclass(frozen=True)
class Interval:
    """A named ``time_intervals`` entry."""

    name: str
    specs: tuple[Spec, ...]

    def contains(self, moment: datetime) -> bool:
        return any(spec.contains(moment) for spec in self.specs)

    def run_end(self, moment: datetime) -> datetime:
        return max(spec.run_end(moment) for spec in self.specs if spec.contains(moment))


def _within(value: int, ranges: Sequence[Range]) -> bool:
    return any(start <= value <= end for start, end in ranges)


def _resolve(day: int, last: int) -> int:
    # Negative days count back from the month's end; both ends clamp to the month, as in
    # Alertmanager (1:31 in February ends on its last day).
    return min(max(last + 1 + day if day < 0 else day, 1), last)


def _month_length(day: date) -> int:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


# --- parsing ---------------------------------------------------------------------------------


def parse_specs(raw: object, path: str = "") -> tuple[Spec, ...]:
    """The list under a named interval's ``time_intervals`` key; IntervalError naming the path."""
    if not isinstance(raw, list) or not raw:
        raise IntervalError(path or ".", "must be a non-empty list of interval specs")
    return tuple(_spec(item, f"{path}[{i}]") for i, item in enumerate(raw))


def _spec(raw: object, path: str) -> Spec:
    if not isinstance(raw, Mapping):
        raise IntervalError(path, "must be a mapping of " + ", ".join(FIELDS))
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise IntervalError(f"{path}.{unknown[0]}", "unknown field; fields: " + ", ".join(FIELDS))
    location = raw.get("location", "UTC")
    if not isinstance(location, str) or not location:
        raise IntervalError(
            f"{path}.location", "must be an IANA time zone name such as Europe/Paris"
        )
    if location.lower() == "local":
        raise IntervalError(
            f"{path}.location",
            "Local is not supported: replicas and replays must agree, name the zone instead",
        )
    if location != "UTC":
        try:
            ZoneInfo(location)
        except (ZoneInfoNotFoundError, ValueError):
            raise IntervalError(f"{path}.location", f"unknown time zone {location!r}") from None
    return Spec(
        times=_times(raw.get("times"), f"{path}.times") if "times" in raw else None,
        weekdays=_ranges(raw, "weekdays", path, _weekday),
        days_of_month=_ranges(raw, "days_of_month", path, _day_of_month),
        months=_ranges(raw, "months", path, _month),
        years=_ranges(raw, "years", path, _year),
        location=location,
    )


def _times(raw: object, path: str) -> tuple[Range, ...]:
    if not isinstance(raw, list) or not raw:
        raise IntervalError(path, "must be a non-empty list of {start_time, end_time}")
    out: list[Range] = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"start_time", "end_time"}:
            raise IntervalError(where, "must have exactly start_time and end_time (HH:MM)")
        start = _clock(item["start_time"], f"{where}.start_time")
        end = _clock(item["end_time"], f"{where}.end_time")
        if end <= start:
            raise IntervalError(f"{where}.end_time", "must be after start_time")
        out.append((start, end))
    return tuple(out)


def _clock(raw: object, path: str) -> int:
    # YAML reads an unquoted 09:00 as a string; 1:30 would be sexagesimal in YAML 1.1 (90).
    text = str(raw) if isinstance(raw, str) else ""
    hours, colon, minutes = text.partition(":")
    if not (colon and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise IntervalError(path, f"{raw!r} is not a time of day as HH:MM (quote it in YAML)")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > DAY:
        raise IntervalError(path, f"{text} is not between 00:00 and 24:00")
    return value


def _ranges(raw: Mapping[str, Any], key: str, path: str, one: Any) -> tuple[Range, ...] | None:
    if key not in raw:
        return None
    items, where = raw[key], f"{path}.{key}"
    if not isinstance(items, list) or not items:
        raise IntervalError(where, "must be a non-empty list of values or start:end ranges")
    out: list[Range] = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        text = str(item).strip().lower() if isinstance(item, (str, int)) else None
        if text is None or isinstance(item, bool):
            raise IntervalError(here, f"{item!r} is not a value or a start:end range")
        first, colon, last = text.partition(":")
        start = one(first.strip(), here)
        end = one(last.strip(), here) if colon else start
        if (start < 0) == (end < 0) and end < start:
            raise IntervalError(here, f"{text}: the range ends before it starts")
        out.append((start, end))
    return tuple(out)


def _weekday(text: str, path: str) -> int:
    if text not in WEEKDAYS:
        raise IntervalError(path, f"{text!r} is not a weekday ({', '.join(WEEKDAYS)})")
    return WEEKDAYS.index(text)


def _month(text: str, path: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    value = _number(text, path, "a month (1-12 or a name)")
    if not 1 <= value <= 12:
        raise IntervalError(path, f"{text} is not a month (1-12 or a name)")
    return value


def _day_of_month(text: str, path: str) -> int:
    value = _number(text, path, "a day of the month")
    if value == 0 or not -31 <= value <= 31:
        raise IntervalError(
            path, f"{text}: days of the month are 1 to 31, or -31 to -1 from its end"
        )
    return value


def _year(text: str, path: str) -> int:
    value = _number(text, path, "a year")
    if not 1 <= value <= 9999:
        raise IntervalError(path, f"{text} is not a year")
    return value


def _number(text: str, path: str, what: str) -> int:
    digits = text[1:] if text.startswith("-") else text
    if not digits.isdigit():
        raise IntervalError(path, f"{text!r} is not {what}")
    return int(text)
