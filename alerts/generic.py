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

Retries are recognised by ``alerts.alertmanager.dedup_key`` only when the sender gives ``at`` (or a
``fingerprint`` and ``at``): without ``at`` every delivery gets its own receive time.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from alerts.errors import PayloadError
from alerts.shape import load_json, opt_str, opt_str_map, parse_status
from alerts.timeparse import parse_rfc3339
from engine.events import Event

DEFAULT_SOURCE = "generic"

_KNOWN = frozenset(
    ("name", "status", "labels", "annotations", "value", "at", "fingerprint", "source")
)


def parse_events(
    body: bytes | str | dict[str, Any] | list[Any], *, received_at: datetime
) -> list[Event]:
    """Validate a generic events body; a ``PayloadError`` names the bad field (``[3].at``)."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    data = load_json(body) if isinstance(body, bytes | str) else body
    if isinstance(data, dict):
        return [_event(data, "", received_at)]
    if isinstance(data, list):
        if not data:
            raise PayloadError("body", "no events: expected an event object or a non-empty array")
        return [_event(raw, f"[{i}]", received_at) for i, raw in enumerate(data)]
    raise PayloadError.expected("body", "an event object or an array of them", data)


def _event(raw: object, path: str, received_at: datetime) -> Event:
    if not isinstance(raw, dict):
        raise PayloadError.expected(path or "body", "an event object", raw)
    prefix = path + "." if path else ""
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise PayloadError.expected(prefix + "name", "a non-empty string", name)
    status = raw.get("status")
    at = raw.get("at")
    source = opt_str(raw, "source", prefix, DEFAULT_SOURCE)
    if not source:
        raise PayloadError.expected(prefix + "source", "a non-empty string", source)
    return Event(
        name=name,
        at=received_at if at is None else parse_rfc3339(at, prefix + "at"),
        kind="event",
        status="firing" if status is None else parse_status(status, prefix + "status"),
        labels=opt_str_map(raw, "labels", prefix),
        annotations=opt_str_map(raw, "annotations", prefix),
        value=_value(raw.get("value"), prefix + "value"),
        source=source,
        fingerprint=opt_str(raw, "fingerprint", prefix) or None,
        fields=_fields(raw, prefix),
    )


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
