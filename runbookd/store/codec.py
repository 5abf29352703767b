"""Journal payloads: events and actions as compact JSON (orjson: parsing is the hot path's cost)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from runbookd.engine.events import Event


def dumps(data: Any) -> str:
    return orjson.dumps(data, default=_default).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def _default(value: Any) -> Any:
    if isinstance(value, Event):
        return event_to_dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the journal")


def event_to_dict(event: Event) -> dict[str, Any]:
    """The journal form of an event: ``Event.to_dict`` (which ``event_from_dict`` reverses)."""
    return event.to_dict()


def event_from_dict(data: dict[str, Any]) -> Event:
    return Event(
        name=data["name"],
        at=datetime.fromisoformat(data["at"]),
        kind=data.get("kind", "event"),
        status=data.get("status", "firing"),
        labels=data.get("labels", {}),
        annotations=data.get("annotations", {}),
        value=data.get("value"),
        source=data.get("source", "generic"),
        fingerprint=data.get("fingerprint"),
        starts_at=_time(data.get("starts_at")),
        ends_at=_time(data.get("ends_at")),
        fields=data.get("fields", {}),
        escaped=tuple(data.get("escaped", ())),
    )


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
