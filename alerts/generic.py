"""Generic JSON events from monitors that are not Alertmanager, normalised to ``Event``s.

The body is one event object or a non-empty array of them. An event object has::

    name         required, non-empty string (the rules match on it)
    status       "firing" (default) or "resolved"
    labels       object of strings: the identity and routing dimensions
    annotations  object of strings: human text, kept verbatim (data, never template source)
    value        number (not a boolean), e.g. the measured metric
    at           RFC 3339 time with an offset; defaults to the receive time
    fingerprint  string identifying one ongoing condition across events
    source       string naming the monitor; defaults to "generic"

Any other key with a string, number or boolean value goes to ``Event.fields``; any other key holding
an object or array is refused, so data does not vanish silently. ``null`` means absent.

Text no store holds (U+0000, lone surrogates) is escaped and recorded (``Event.escaped``, see
``alerts.storable``). In an array, one unusable event costs only itself: the others are stored and
the answer lists it.

Retries are recognised by ``alerts.alertmanager.dedup_key`` only when the sender gives ``at`` (or a
``fingerprint`` and ``at``): without ``at`` every delivery gets its own receive time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runbookd.alerts.alertmanager import MAX_FINGERPRINT
from runbookd.alerts.errors import PayloadError, short_repr
from runbookd.alerts.outcome import AllRejected, Rejected
from runbookd.alerts.shape import load_json, opt_str, opt_str_map, parse_status
from runbookd.alerts.storable import escape_tree
from runbookd.alerts.timeparse import parse_rfc3339
from runbookd.engine.events import Event

DEFAULT_SOURCE = "generic"

_KNOWN = frozenset(
    ("name", "status", "labels", "annotations", "value", "at", "fingerprint", "source")
)


@dataclass(frozen=True, slots=True)
class EventBatch:
    """What one events body gave: the usable events, the refused ones, the escaped fields."""

    events: list[Event]
    rejected: list[Rejected] = field(default_factory=list)
    #: fields stored in escaped form, as paths of the body (``[2].labels.instance``)
    escaped: list[str] = field(default_factory=list)


def parse_events(
    body: bytes | str | dict[str, Any] | list[Any], *, received_at: datetime
) -> list[Event]:
    """Validate a generic events body; a ``PayloadError`` names the first bad field (``[3].at``)."""
    return parse_event_batch(body, received_at=received_at, partial=False).events


def parse_event_batch(
    body: bytes | str | dict[str, Any] | list[Any],
    *,
    received_at: datetime,
    partial: bool = True,
) -> EventBatch:
    """Validate a generic events body, keeping the usable events of an array (``partial``).

    A body that is neither an event object nor a non-empty array of them, a single event object
    that is unusable, or an array whose every event is (``AllRejected``) raise ``PayloadError``.
    Text no store holds is escaped (``alerts.storable``) and listed in ``escaped``.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    data, suspect = load_json(body) if isinstance(body, bytes | str) else (body, True)
    if isinstance(data, dict):
        event = _event(data, "", received_at, suspect)
        return EventBatch([event], escaped=[m.removeprefix("fields.") for m in event.escaped])
    if not isinstance(data, list):
        raise PayloadError.expected("body", "an event object or an array of them", data)
    if not data:
        raise PayloadError("body", "no events: expected an event object or a non-empty array")
    batch = EventBatch([])
    for i, raw in enumerate(data):
        try:
            event = _event(raw, f"[{i}]", received_at, suspect)
        except PayloadError as exc:
            if not partial:
                raise
            batch.rejected.append(Rejected.of(i, raw, exc))
            continue
        batch.events.append(event)
        # body paths: an extra key is ``fields.<key>`` on the event, ``[i].<key>`` in the body
        batch.escaped.extend(f"[{i}].{m.removeprefix('fields.')}" for m in event.escaped)
    if not batch.events:
        raise AllRejected(batch.rejected)
    return batch


def _event(raw: object, path: str, received_at: datetime, suspect: bool) -> Event:
    if not isinstance(raw, dict):
        raise PayloadError.expected(path or "body", "an event object", raw)
    prefix = path + "." if path else ""
    marks: tuple[str, ...] = ()
    event: dict[str, Any] = raw
    if suspect:
        event, found = escape_tree(raw, path)
        marks = tuple(m[len(prefix) :] for m in found)
    name = event.get("name")
    if not isinstance(name, str) or not name:
        raise PayloadError.expected(prefix + "name", "a non-empty string", name)
    status = event.get("status")
    at = event.get("at")
    source = opt_str(event, "source", prefix, DEFAULT_SOURCE)
    if not source:
        raise PayloadError.expected(prefix + "source", "a non-empty string", source)
    fingerprint = opt_str(event, "fingerprint", prefix)
    if len(fingerprint) > MAX_FINGERPRINT:
        raise PayloadError(
            prefix + "fingerprint",
            f"longer than {MAX_FINGERPRINT} characters ({len(fingerprint)}): "
            f"{short_repr(fingerprint)}",
        )
    return Event(
        name=name,
        at=received_at if at is None else parse_rfc3339(at, prefix + "at"),
        kind="event",
        status="firing" if status is None else parse_status(status, prefix + "status"),
        labels=opt_str_map(event, "labels", prefix),
        annotations=opt_str_map(event, "annotations", prefix),
        value=_value(event.get("value"), prefix + "value"),
        source=source,
        fingerprint=fingerprint or None,
        fields=_fields(event, prefix),
        escaped=tuple(m if _root(m) in _KNOWN else "fields." + m for m in marks),
    )


def _root(path: str) -> str:
    return path.partition(".")[0]


def _value(value: object, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError.expected(field, "a number", value)
    try:
        number = float(value)
    except OverflowError:  # an integer literal too large for a float
        number = math.inf
    if not math.isfinite(number):
        raise PayloadError.expected(field, "a finite number", value)
    return number


def _fields(raw: dict[str, Any], prefix: str) -> dict[str, str | int | float | bool]:
    fields: dict[str, str | int | float | bool] = {}
    for key, item in raw.items():
        if key in _KNOWN or item is None:
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise PayloadError.expected(prefix + key, "a finite number", item)
        if not isinstance(item, str | int | float):  # bool is an int
            raise PayloadError.expected(
                prefix + key, "a string, number or boolean (an extra key must be a scalar)", item
            )
        fields[key] = item
    return fields
