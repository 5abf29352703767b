"""A schedule's shifts as an iCalendar (RFC 5545) document that calendar apps subscribe to.

Times are written in UTC (``...Z``), which RFC 5545 allows without a VTIMEZONE component and
every client converts to its own zone; a shift is one VEVENT.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from runbookd.oncall.model import Person
from runbookd.oncall.resolve import Shift

PRODID = "-//runbookd//on-call schedules//EN"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    """TEXT values (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets (3.1), never inside a character."""
    out: list[str] = []
    current = b""
    limit = 75
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > limit:
            out.append(current.decode("utf-8"))
            current = b""
            limit = 74  # continuation lines start with one space, which counts
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def calendar(
    schedule_id: str,
    shifts: Iterable[Shift],
    people: dict[str, Person],
    *,
    stamp: datetime,
) -> str:
    """The VCALENDAR text (CRLF line ends) of ``shifts``; ``stamp`` is DTSTAMP (the export time)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{escape_text(f'on call: {schedule_id}')}",
    ]
    for shift in shifts:
        person = people.get(shift.person, Person())
        name = person.name or shift.person
        lines += [
            "BEGIN:VEVENT",
            f"UID:{schedule_id}.{_utc(shift.start)}.{shift.via}@runbookd",
            f"DTSTAMP:{_utc(stamp)}",
            f"DTSTART:{_utc(shift.start)}",
            f"DTEND:{_utc(shift.end)}",
            f"SUMMARY:{escape_text(f'{name} on call ({schedule_id})')}",
            f"DESCRIPTION:{escape_text(f'person: {shift.person}; via: {shift.via}')}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
