"""Durations in connector parameters and settings: ``30s``, ``5m``, ``1h30m``, ``2d``, ``500ms``.

The same spelling as the runbook language (``engine/lang/durations.py``). Connectors cannot import
the engine (imports go ``engine -> connectors``), and these values are often templates, so they
are parsed when the call runs, not when the runbook loads.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m`` into a positive timedelta; raise ValueError naming the bad text."""
    if not _WHOLE.match(text):
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 5m, 1h30m, 2d")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return timedelta(seconds=seconds)


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value).total_seconds()
    return value


#: A settings value in seconds, written as a number (``30``) or a duration (``30s``).
Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
