"""The schedule language: people, schedules, layers, rotations, restrictions, overrides.

A schedule file holds ``people:`` (a mapping of person ids to contacts) and/or ``schedules:``
(a list). docs/oncall.md is the reference; cross-file checks (unknown people, duplicate ids)
live in ``oncall.loader``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[DayName, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_LENGTH = re.compile(r"^(\d+)([hdw])$")


def _sexagesimal_hint(value: int) -> str:
    # YAML 1.1 reads an unquoted 17:00 as the base-60 integer 1020; show the author what it was.
    text = f"{value // 60}:{value % 60:02d}"
    return f'YAML read {text} as a number; quote it: "{text}"'


def _time_of_day(value: Any) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(_sexagesimal_hint(value))
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError(f'{value!r} is not a time of day; write HH:MM, e.g. "09:00"')
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _date(value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date; write YYYY-MM-DD")


def _moment(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(
        f'{value!r} is not a date and time; write e.g. "2026-03-10T09:00" (schedule\'s zone) '
        'or "2026-03-10T08:00Z"'
    )


def _length(value: Any) -> timedelta:
    """``daily``, ``weekly``, ``Nd``, ``Nw``, or ``Nh`` dividing a day: a wall-clock step."""
    if value == "daily":
        return timedelta(days=1)
    if value == "weekly":
        return timedelta(weeks=1)
    found = _LENGTH.match(value) if isinstance(value, str) else None
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f"{value!r} is not a rotation length; write daily, weekly, 3d, 2w or 12h")
    n, unit = int(found.group(1)), found.group(2)
    if unit == "h":
        # Hours that divide a day keep every hand-off at the same wall-clock times each day; two
        # hours or more keep hand-offs strictly ordered across a one-hour DST jump.
        if n not in (2, 3, 4, 6, 8, 12):
            raise ValueError(f"{value!r}: a length in hours must be 2h, 3h, 4h, 6h, 8h or 12h")
        return timedelta(hours=n)
    return timedelta(days=n) if unit == "d" else timedelta(weeks=n)


TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]
Day = Annotated[date, BeforeValidator(_date)]
Moment = Annotated[datetime, BeforeValidator(_moment)]
Length = Annotated[timedelta, BeforeValidator(_length)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Person(Strict):
    """Someone who can be on call, and how connectors reach them."""

    name: str | None = Field(None, description="Display name; the id when absent.")
    email: str | None = None
    slack: str | None = Field(None, description="Slack user id, e.g. U01ABCDEF.")
    pagerduty: str | None = Field(None, description="PagerDuty user id, e.g. PABC123.")
    phone: str | None = Field(None, description="E.164 phone number, e.g. +4930123456.")


class Rotation(Strict):
    """Members take turns of ``length``, the first from ``start`` at ``handoff`` local time."""

    length: Length = Field(description="daily, weekly, Nd, Nw or Nh (2h..12h dividing a day).")
    handoff: TimeOfDay = Field(description="Local hand-off time, HH:MM.")
    start: Day = Field(description="The day the first member's first turn begins, YYYY-MM-DD.")


class Restriction(Strict):
    """A window (local time) in which the layer is on call; ``to`` before ``from`` is overnight."""

    days: list[DayName] = Field(
        default_factory=lambda: list(DAYS), min_length=1, description="Days the window starts on."
    )
    from_: TimeOfDay = Field(alias="from")
    to: TimeOfDay

    @model_validator(mode="after")
    def _not_empty(self) -> Restriction:
        if self.from_ == self.to:
            raise ValueError("from and to are equal; leave restrictions out for all day")
        return self


class Layer(Strict):
    """One rotation; the first layer of a schedule with someone on call at an instant wins."""

    id: str = Field(pattern=ID_PATTERN)
    rotation: Rotation
    members: list[str] = Field(min_length=1, description="Person ids, in turn order.")
    restrictions: list[Restriction] = Field(
        default_factory=list, description="On call only inside these windows (e.g. work hours)."
    )


class Override(Strict):
    """``person`` is on call from ``start`` to ``end`` instead of whoever the layers say."""

    person: str
    start: Moment
    end: Moment
    reason: str | None = None


class Schedule(Strict):
    id: str = Field(pattern=ID_PATTERN)
    description: str | None = None
    time_zone: str = Field(
        description="IANA zone of hand-offs and restrictions, e.g. Europe/Berlin."
    )
    layers: list[Layer] = Field(min_length=1)
    overrides: list[Override] = Field(default_factory=list)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class ScheduleFile(Strict):
    people: dict[str, Person] = Field(default_factory=dict)
    schedules: list[Schedule] = Field(default_factory=list)
