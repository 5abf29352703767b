"""``runbookd replay``: recorded events through runbooks on a virtual clock, and why not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from runbookd.alerts.alertmanager import parse_notification
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.generic import parse_events
from runbookd.alerts.timeparse import parse_rfc3339
from runbookd.engine.compiler import CompiledRunbook
from runbookd.engine.events import Event
from runbookd.engine.simulator import Simulator


class ReplayError(Exception):
    """A line of the events file that cannot be replayed."""


@dataclass(frozen=True)
class Recorded:
    at: datetime
    events: list[Event]
    line: int


def read_events(path: Path) -> Iterator[Recorded]:
    """JSON lines: ``{"at": RFC3339, "alertmanager": {...}}`` or ``{"at": ..., "event": {...}}``;
    a bare Alertmanager payload (with ``version``) uses its alerts' ``startsAt`` as the time."""
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                yield _parse_line(json.loads(raw), number)
            except (json.JSONDecodeError, PayloadError, KeyError, TypeError) as exc:
                raise ReplayError(f"{path}:{number}: {exc}") from None


def _parse_line(obj: Any, number: int) -> Recorded:
    if not isinstance(obj, dict):
        raise TypeError("each line is a JSON object")
    if "version" in obj and "alerts" in obj:  # a raw webhook body as captured
        first = min((a.get("startsAt", "") for a in obj["alerts"]), default="")
        at = parse_rfc3339(first, "alerts[0].startsAt")
        return Recorded(at, parse_notification(obj, received_at=at).alerts, number)
    at = parse_rfc3339(obj["at"], "at")
    if "alertmanager" in obj:
        return Recorded(at, parse_notification(obj["alertmanager"], received_at=at).alerts, number)
    if "event" in obj:
        return Recorded(at, parse_events(obj["event"], received_at=at), number)
    raise KeyError("a line needs 'alertmanager' or 'event' beside 'at'")


def replay(compiled: list[CompiledRunbook], path: Path, out: TextIO, *, as_json: bool) -> int:
    records = sorted(read_events(path), key=lambda r: (r.at, r.line))
    if not records:
        raise ReplayError(f"{path}: no events")
    sim = Simulator(compiled, records[0].at)
    printed = 0

    def flush() -> None:
        nonlocal printed
        for command in sim.timeline[printed:]:
            if as_json:
                out.write(json.dumps(command.to_dict(), default=str) + "\n")
            else:
                out.write(command.summary() + "\n")
        printed = len(sim.timeline)

    for record in records:
        sim.run_until(record.at)
        flush()
        for event in record.events:
            sim.ingest([event])
            started = [
                c for c in sim.timeline[printed:] if c.kind in ("rule_fired", "attach", "raise")
            ]
            flush()
            if not started:
                _why_not(sim, event, record.line, out, as_json)
    # Let what the events started (escalations, windows, verifications) play out, up to a day.
    horizon = max(r.at for r in records) + timedelta(days=1)
    while (due := sim.engine.next_due()) is not None and due <= horizon:
        sim.run_until(due)
    flush()
    return printed


def _why_not(sim: Simulator, event: Event, line: int, out: TextIO, as_json: bool) -> None:
    closest = sim.engine.explain(event)
    if closest is None:
        reason = "no runbooks loaded"
        record: dict[str, Any] = {
            "kind": "no_match",
            "line": line,
            "event": event.name,
            "reason": reason,
        }
    else:
        runbook, trigger, score, misses = closest
        reason = (
            f"closest: runbook {runbook} trigger {trigger} ({score:.0%} of its tests held); "
            + ("; ".join(str(m) for m in misses[:3]) or "a window or correlation did not complete")
        )
        record = {
            "kind": "no_match",
            "line": line,
            "event": event.name,
            "closest_runbook": runbook,
            "closest_trigger": trigger,
            "score": round(score, 3),
            "failed": [str(m) for m in misses],
        }
    if as_json:
        out.write(json.dumps({"at": event.at.isoformat(), **record}) + "\n")
    else:
        out.write(f"{event.at.isoformat()} no_match line {line} {event.name!r}: {reason}\n")
