"""Durations as SREs write them (``30s``, ``5m``, ``1h30m``): the runbook language's pydantic types.

Parsing is ``connectors/durations.py``'s, the project's one parser with Prometheus's grammar;
this module adds the types runbooks and settings declare and the shortest spelling back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from runbookd.connectors.durations import DURATION_PATTERN, HINT, parse_duration

__all__ = ["DURATION_PATTERN", "Duration", "Offset", "format_duration", "parse_duration"]


def format_duration(value: timedelta) -> str:
    """The shortest ``1h30m``-style spelling of a timedelta."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)


def _validate(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; {HINT}")
    return parse_duration(value)


def _validate_offset(value: Any) -> timedelta:
    if value == "0s" or value == 0:
        return timedelta(0)
    return _validate(value)


#: A point on a scenario's timeline: like Duration but ``0s`` is allowed.
Offset = Annotated[
    timedelta,
    BeforeValidator(_validate_offset),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["0s", "90s"]}),
]

Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "5m"]}),
]
