"""The one event model the engine sees; vendor payloads are normalised to it in ``alerts/``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

EventKind = Literal["alert", "event"]
Status = Literal["firing", "resolved"]

#: Top-level paths a condition may name; ``labels.*``, ``annotations.*`` and ``fields.*`` too.
EVENT_FIELDS = ("kind", "name", "status", "source", "value", "fingerprint")
EVENT_MAPS = ("labels", "annotations", "fields")


@dataclass(frozen=True, slots=True)
class Event:
    """An alert or generic event, normalised.

    ``name`` is the alert name (Alertmanager's ``alertname`` label) or the event's name;
    ``fingerprint`` identifies one alert across notifications; ``fields`` holds a generic event's
    other scalar attributes. ``escaped`` lists the fields (``labels.instance``,
    ``annotations.summary``) whose text arrived with characters no store holds and is kept in the
    reversible escaped form of ``alerts.storable``; the others are verbatim.
    """

    name: str
    at: datetime
    kind: EventKind = "event"
    status: Status = "firing"
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    value: float | None = None
    source: str = "generic"
    fingerprint: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    fields: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    escaped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("Event.at must be timezone-aware")
        if self.value is not None and not math.isfinite(self.value):
            object.__setattr__(self, "value", None)

    def get(self, path: str) -> Any:
        """The value at a dotted path such as ``labels.channel``; ``None`` when absent."""
        head, _, rest = path.partition(".")
        if not rest:
            return getattr(self, head, None) if head in EVENT_FIELDS else None
        if head in EVENT_MAPS:
            return getattr(self, head).get(rest)
        return None

    @property
    def identity(self) -> str:
        """What makes two copies of this event the same one: fingerprint or name+labels."""
        if self.fingerprint:
            return self.fingerprint
        return self.name + "|" + ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "at": self.at.isoformat(),
            "labels": dict(self.labels),
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.value is not None:
            out["value"] = self.value
        if self.source != "generic":
            out["source"] = self.source
        if self.fingerprint:
            out["fingerprint"] = self.fingerprint
        if self.starts_at is not None:
            out["starts_at"] = self.starts_at.isoformat()
        if self.ends_at is not None:
            out["ends_at"] = self.ends_at.isoformat()
        if self.fields:
            out["fields"] = dict(self.fields)
        if self.escaped:
            out["escaped"] = list(self.escaped)
        return out


def is_known_path(path: str) -> bool:
    head, dot, rest = path.partition(".")
    if not dot:
        return head in EVENT_FIELDS
    return head in EVENT_MAPS and bool(rest)
