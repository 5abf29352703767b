"""CloudEvents 1.0 in the structured JSON format (``application/cloudevents+json``, and arrays of
them as ``application/cloudevents-batch+json``) normalised to ``Event``s.

An event's required attributes are ``specversion`` (``"1.0"``), ``id``, ``source`` and ``type``;
``subject`` and ``time`` are optional, and so are extension attributes (lower-case letters and
digits, scalar values). The mapping:

    name         type
    labels       source and subject under those names, and every extension attribute as text
                 (``status`` excepted)
    status       the extension attribute ``status`` (``firing``, ``resolved``); firing without it
    at           the receive time; ``time`` becomes ``starts_at``, so that a redelivery of the
                 same event (same labels and ``time``) is recognised as a duplicate
    value        ``data.value`` when ``data`` is an object and it is a number
    fields       ``id``, ``datacontenttype`` and ``dataschema``, and each string, number or boolean
                 member of a ``data`` object as ``data_<name>`` (names of letters, digits and
                 ``_``); nested members and any other ``data`` (or ``data_base64``) are not read

``source`` of the resulting events is ``cloudevents``. The binary content mode (attributes in
``ce-*`` headers) is not read: the route refuses other content types with 415.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from runbookd.alerts.errors import PayloadError
from runbookd.alerts.generic import EventBatch
from runbookd.alerts.outcome import AllRejected, Rejected
from runbookd.alerts.shape import load_json, opt_str, parse_status
from runbookd.alerts.storable import escape_tree
from runbookd.alerts.timeparse import parse_rfc3339
from runbookd.engine.events import Event

SOURCE = "cloudevents"
SPECVERSION = "1.0"
#: The content types of the structured mode, single and batched.
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"

_CONTEXT = frozenset(
    ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema")
)
_DATA = frozenset(("data", "data_base64"))
_EXTENSION = re.compile(r"^[a-z0-9]{1,20}$")
_DATA_MEMBER = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def parse_cloudevents(
    body: bytes | str | dict[str, Any] | list[Any],
    *,
    received_at: datetime,
    batch: bool = False,
    partial: bool = True,
) -> EventBatch:
    """One event (an object), or with ``batch`` a non-empty array of them; ``PayloadError`` names
    the field (``[2].specversion``). In a batch one unusable event costs only itself
    (``partial``)."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    data, suspect = load_json(body) if isinstance(body, bytes | str) else (body, True)
    if not batch:
        if not isinstance(data, dict):
            what = f"a CloudEvent object (an array is sent as {BATCH})"
            raise PayloadError.expected("body", what, data)
        event, marks = _event(data, "", received_at, suspect)
        return EventBatch([event], escaped=marks)
    if not isinstance(data, list):
        raise PayloadError.expected("body", f"an array of CloudEvents ({BATCH})", data)
    if not data:
        raise PayloadError("body", "no events: expected a CloudEvent or a non-empty array")
    out = EventBatch([])
    for i, raw in enumerate(data):
        try:
            event, marks = _event(raw, f"[{i}]", received_at, suspect)
        except PayloadError as exc:
            if not partial:
                raise
            out.rejected.append(Rejected.of(i, raw, exc))
            continue
        out.events.append(event)
        out.escaped.extend(f"[{i}].{m}" for m in marks)
    if not out.events:
        raise AllRejected(out.rejected)
    return out


def _event(raw: object, path: str, received_at: datetime, suspect: bool) -> tuple[Event, list[str]]:
    """The event, and the attributes of the body stored in escaped form (as body paths)."""
    if not isinstance(raw, dict):
        raise PayloadError.expected(path or "body", "a CloudEvent object", raw)
    prefix = path + "." if path else ""
    event: dict[str, Any] = raw
    marks: list[str] = []
    if suspect:
        event, found = escape_tree(raw, path)
        marks = [m[len(prefix) :] for m in found]
    version = event.get("specversion")
    if version != SPECVERSION:
        raise PayloadError.expected(prefix + "specversion", f"the string {SPECVERSION!r}", version)
    required: dict[str, str] = {}
    for key in ("id", "source", "type"):
        given = event.get(key)
        if not isinstance(given, str) or not given:
            raise PayloadError.expected(prefix + key, "a non-empty string", given)
        required[key] = given
    labels = {"source": required["source"]}
    subject = opt_str(event, "subject", prefix)
    if subject:
        labels["subject"] = subject
    status = None
    for key, attribute in event.items():
        if key in _CONTEXT or key in _DATA or attribute is None:
            continue
        if not _EXTENSION.match(key):
            raise PayloadError(prefix + key, "not a CloudEvents attribute name (a-z, 0-9)")
        if key == "status":
            status = parse_status(attribute, prefix + key)
        elif isinstance(attribute, str | int) or (
            isinstance(attribute, float) and math.isfinite(attribute)
        ):
            text = str(attribute)
            labels[key] = text.lower() if isinstance(attribute, bool) else text
        else:
            raise PayloadError.expected(prefix + key, "a string, number or boolean", attribute)
    time = event.get("time")
    fields: dict[str, str | int | float | bool] = {"id": required["id"]}
    for key in ("datacontenttype", "dataschema"):
        text = opt_str(event, key, prefix)
        if text:
            fields[key] = text
    payload = event.get("data")
    value: float | None = None
    if isinstance(payload, dict):
        for key, item in payload.items():
            # Only names a condition can spell (``fields.data_x``); NaN is no measurement.
            if not _DATA_MEMBER.match(key) or (isinstance(item, float) and not math.isfinite(item)):
                continue
            if isinstance(item, str | int | float):
                fields[f"data_{key}"] = item
        number = payload.get("value")
        if isinstance(number, int | float) and not isinstance(number, bool):
            try:
                value = float(number) if math.isfinite(number) else None
            except OverflowError:  # an integer literal too large for a float
                value = None
    read = {m: _event_path(m) for m in marks}
    return Event(
        escaped=tuple(sorted(set(read.values()) - {""})),
        name=required["type"],
        at=received_at,
        kind="event",
        status=status or "firing",
        labels=labels,
        value=value,
        source=SOURCE,
        starts_at=None if time is None else parse_rfc3339(time, prefix + "time"),
        fields=fields,
    ), [m for m, at in read.items() if at]


def _event_path(mark: str) -> str:
    """Where an escaped attribute of the body ended up on the event (see ``Event.escaped``)."""
    head, _, rest = mark.partition(".")
    if head == "type":
        return "name"
    if head in ("id", "datacontenttype", "dataschema"):
        return f"fields.{head}"
    if head == "data":
        member = rest.partition(".")[0]
        return f"fields.data_{member}" if member and "." not in rest else ""
    if head in _CONTEXT or head in _DATA or head == "status":
        return "" if head not in ("source", "subject") else f"labels.{head}"
    return f"labels.{head}"
