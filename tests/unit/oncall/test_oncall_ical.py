"""The iCalendar export against RFC 5545's rules, read back by a small independent parser.

The ``icalendar`` package is not installed on these machines, so the rules a calendar client
relies on are checked here one by one: CRLF line ends, lines folded at 75 octets, properly nested
components, the required properties, UTC date-times, unique UIDs and escaped TEXT.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from runbookd.oncall.ical import calendar
from runbookd.oncall.loader import load_texts

TEXT = """
people:
  alice: {name: "Müller, Alice; SRE"}
  bob: {}
schedules:
  - id: payments-primary
    time_zone: Europe/Berlin
    layers:
      - id: primary
        rotation: {length: weekly, handoff: "09:00", start: "2026-03-23"}
        members: [alice, bob]
"""

DATE_TIME = re.compile(r"^\d{8}T\d{6}Z$")


def unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    physical = text[:-2].split("\r\n")
    assert all("\n" not in line and "\r" not in line for line in physical)  # CRLF only
    assert all(len(line.encode("utf-8")) <= 75 for line in physical)
    logical: list[str] = []
    for line in physical:
        if line.startswith((" ", "\t")):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return logical


def components(lines: list[str]) -> list[dict[str, str]]:
    """VEVENTs as property maps, checking that BEGIN/END nest."""
    stack: list[str] = []
    events: list[dict[str, str]] = []
    props: dict[str, str] = {}
    top: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        assert re.fullmatch(r"[A-Z-]+", name), line
        if name == "BEGIN":
            stack.append(value)
            props = {}
        elif name == "END":
            assert stack.pop() == value
            if value == "VEVENT":
                events.append(props)
        else:
            (props if stack[-1] == "VEVENT" else top)[name] = value
    assert stack == []
    assert top["VERSION"] == "2.0" and top["PRODID"]
    return events


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def test_export_follows_rfc5545() -> None:
    lib = load_texts([("s.yaml", TEXT)])
    r = lib.resolver("payments-primary")
    start = datetime(2026, 3, 23, 8, tzinfo=UTC)
    # Four weekly turns: to 09:00 Berlin summer time (07:00 UTC) on 20 April.
    shifts = r.shifts(start, datetime(2026, 4, 20, 7, tzinfo=UTC))
    text = calendar("payments-primary", shifts, lib.people, stamp=datetime(2026, 3, 1, tzinfo=UTC))
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    events = components(unfold(text))
    assert len(events) == 4
    assert len({e["UID"] for e in events}) == 4
    for event in events:
        for key in ("DTSTAMP", "DTSTART", "DTEND"):
            assert DATE_TIME.match(event[key]), event
        assert event["DTSTART"] < event["DTEND"]
    # The DST change on 29 March moves the UTC hand-off from 08:00 to 07:00.
    assert [e["DTSTART"] for e in events] == [
        "20260323T080000Z",
        "20260330T070000Z",
        "20260406T070000Z",
        "20260413T070000Z",
    ]
    assert unescape(events[0]["SUMMARY"]) == "Müller, Alice; SRE on call (payments-primary)"
    assert "\\," in events[0]["SUMMARY"] and "\\;" in events[0]["SUMMARY"]
    assert unescape(events[1]["SUMMARY"]) == "bob on call (payments-primary)"


def test_long_lines_fold_without_splitting_characters() -> None:
    lib = load_texts([("s.yaml", TEXT.replace("Müller, Alice; SRE", "Ä" * 80))])
    r = lib.resolver("payments-primary")
    start = datetime(2026, 3, 23, 8, tzinfo=UTC)
    text = calendar(
        "payments-primary", r.shifts(start, start + timedelta(days=1)), lib.people, stamp=start
    )
    lines = unfold(text)  # asserts every physical line is at most 75 octets
    summary = next(line for line in lines if line.startswith("SUMMARY:"))
    assert summary == "SUMMARY:" + "Ä" * 80 + " on call (payments-primary)"
    assert any(line.startswith(" ") for line in text.split("\r\n"))
